"""Never email an address again (it bounced, complained, or asked by other means), or, with
--remove, lift that: for sites whose email provider sends no tracking webhooks."""

from django.core.management.base import BaseCommand, CommandError

from tracking.services import notifications


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--reason", default="manual", help="bounce, complaint, request, ...")
        parser.add_argument("--remove", action="store_true", help="email the address again")

    def handle(self, *args, email, reason, remove, **options):
        address = email.strip().lower()
        if "@" not in address:
            raise CommandError(f"{email!r} is not an email address.")
        if remove:
            lifted = notifications.lift_suppression(address)
            self.stdout.write(f"{address} is {'no longer' if lifted else 'not'} suppressed.")
            return
        cancelled = notifications.suppress(address, reason=reason)
        self.stdout.write(f"{address} is suppressed ({cancelled} pending email(s) cancelled).")
