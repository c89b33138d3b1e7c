"""python manage.py createapikey NAME (--brand SLUG | --carrier CODE [--carrier-name NAME])

Prints the new secret alone on the last line, so scripts can take it with `tail -n 1`.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tracking import services
from tracking.models import CARRIER_CODE, Brand, Carrier


class Command(BaseCommand):
    help = "Issue an API key for a brand (client key) or a carrier (carrier key)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="who uses the key; also the legs' integrationName")
        role = parser.add_mutually_exclusive_group(required=True)
        role.add_argument("--brand", metavar="SLUG", help="issue a client key for this brand")
        role.add_argument("--carrier", metavar="CODE", help="issue a carrier key, e.g. CARRIER_X")
        parser.add_argument(
            "--carrier-name", help="the carrier's name, when --carrier names a new carrier"
        )
        parser.add_argument("--expires-days", type=int, help="the key stops working after N days")

    def handle(self, *args, **options):
        brand = carrier = None
        if options["brand"]:
            brand = Brand.objects.filter(slug=options["brand"]).first()
            if brand is None:
                raise CommandError(f"No brand with slug {options['brand']!r}.")
        else:
            code = options["carrier"].strip().upper()
            if not CARRIER_CODE.match(code) or len(code) > 50:
                raise CommandError("--carrier must be an upper-case code like CARRIER_X.")
            carrier, created = Carrier.objects.get_or_create(
                code=code, defaults={"name": options["carrier_name"] or code.replace("_", " ")}
            )
            if created:
                self.stdout.write(f"Created carrier {carrier.code} ({carrier.name}).")
        expires_at = None
        if options["expires_days"] is not None:
            if options["expires_days"] < 1:
                raise CommandError("--expires-days must be at least 1.")
            expires_at = timezone.now() + dt.timedelta(days=options["expires_days"])
        try:
            key, secret = services.issue_api_key(
                name=options["name"], brand=brand, carrier=carrier, expires_at=expires_at
            )
        except ValidationError as error:
            raise CommandError(f"Invalid key: {error.messages[0]}") from None
        bound = f"brand {brand.slug}" if brand else f"carrier {carrier.code}"
        self.stdout.write(
            f"Issued {key.role} key {key.name!r} for {bound}. "
            "The secret below is shown once and cannot be recovered:"
        )
        self.stdout.write(secret)
