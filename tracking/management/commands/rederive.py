"""Derive every stored status again from the events, a consignment at a time.

Migration 0009 does this once for the rules of 2026-12-01; this is for repairs and for any
later change of the rules that the upgrade notes name. Nothing is announced or sent for the
statuses it moves, and a consignment whose statuses stand is not touched.
"""

from django.core.management.base import BaseCommand

from tracking import services
from tracking.models import Consignment


class Command(BaseCommand):
    help = "Derive every leg's, package's and consignment's status again from its events."

    def add_arguments(self, parser):
        parser.add_argument("--brand", help="Only this brand's consignments (its slug).")
        parser.add_argument("--batch", type=int, default=500, help="Consignments per query.")

    def handle(self, *args, brand=None, batch=500, **options):
        consignments = Consignment.objects.order_by("pk")
        if brand:
            consignments = consignments.filter(brand__slug=brand)
        seen = changed = 0
        last = None
        while True:
            page = consignments if last is None else consignments.filter(pk__gt=last)
            chunk = list(page[:batch])
            if not chunk:
                break
            for consignment in chunk:
                changed += services.rederive(consignment)
            seen += len(chunk)
            last = chunk[-1].pk
        self.stdout.write(f"{seen} consignments checked, {changed} changed.")
