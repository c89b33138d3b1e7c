"""python manage.py sweepratelimits: forget rate-limit counters of clients long gone.

Only needed without REDIS_URL (Redis expires its counters itself). Run it daily from cron.
"""

from django.core.management.base import BaseCommand

from tracking import ratelimit


class Command(BaseCommand):
    help = "Delete database rate-limit counters unused for a day (run daily without Redis)."

    def handle(self, *args, **options):
        deleted = ratelimit.sweep()
        self.stdout.write(f"Deleted {deleted} old rate-limit counters.")
