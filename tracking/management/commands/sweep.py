"""Run the background sweep now (what the worker does every minute): wake delivery for due
messages, prune old ones and finished task results, and restart the minute-by-minute chain."""

import json

from django.core.management.base import BaseCommand

from tracking.delivery.tasks import sweep


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(sweep.call()))
