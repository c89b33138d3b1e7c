"""python manage.py eraserecipient EC-XXX-XXX-XXX: remove the recipient's personal data."""

from django.core.management.base import BaseCommand, CommandError

from tracking import access, services
from tracking.models import Consignment


class Command(BaseCommand):
    help = (
        "Erase a consignment's recipient data (name, email, address, postcode, signatures) on "
        "request; the journey's events stay, anonymised."
    )

    def add_arguments(self, parser):
        parser.add_argument("reference")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, **options):
        reference = access.normalise_reference(options["reference"])
        consignment = Consignment.objects.filter(reference=reference).first()
        if consignment is None:
            raise CommandError(f"No consignment {options['reference']!r}.")
        if not options["yes"]:
            answer = input(f"Erase the recipient data of {reference}? This cannot be undone [y/N] ")
            if answer.strip().lower() != "y":
                raise CommandError("Nothing erased.")
        services.erase_recipient(consignment)
        self.stdout.write(f"Erased the recipient data of {reference}.")
