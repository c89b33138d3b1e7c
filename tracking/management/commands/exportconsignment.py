"""python manage.py exportconsignment EC-XXX-XXX-XXX: everything stored about it, as JSON."""

import json

from django.core.management.base import BaseCommand, CommandError

from tracking import access, services
from tracking.models import Consignment


class Command(BaseCommand):
    help = "Print everything stored about a consignment as JSON (subject-access requests)."

    def add_arguments(self, parser):
        parser.add_argument("reference")

    def handle(self, *args, **options):
        reference = access.normalise_reference(options["reference"])
        consignment = Consignment.objects.filter(reference=reference).first()
        if consignment is None:
            raise CommandError(f"No consignment {options['reference']!r}.")
        self.stdout.write(json.dumps(services.export_consignment(consignment), indent=2))
