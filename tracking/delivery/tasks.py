"""The Tasks API entry points (django-tasks): what a worker runs, by dotted path.

`deliver_webhooks` drains the due messages and makes sure a copy runs when the next retry
falls due; `sweep` runs every minute (it re-enqueues itself) and wakes delivery for anything
due whose task was lost, prunes old messages and finished task results, and keeps the chain
alive. Both are safe to run twice at once.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from tracking.delivery import schedule, webhooks

logger = logging.getLogger(__name__)

TASK_RESULTS_KEPT = dt.timedelta(days=1)


@task()
def deliver_webhooks() -> int:
    attempted = webhooks.drain()
    upcoming = webhooks.next_retry_at()
    if upcoming is not None:
        schedule.retry_at(deliver_webhooks, max(upcoming, timezone.now()))
    schedule.schedule_sweep(sweep)  # starts the chain if it was never started or was lost
    return attempted


@task()
def sweep(token: str = "") -> dict:
    """One minute's housekeeping. A copy whose token no longer owns the schedule stops."""
    if token and not schedule.owns_sweep(token):
        return {"stale": True}
    now = timezone.now()
    due = webhooks.oldest_due(now) is not None
    if due:
        deliver_webhooks.enqueue()
    pruned = webhooks.prune(now)
    results = prune_task_results(now)
    schedule.schedule_sweep(sweep, replacing=token or None, force=not token)
    return {"due": due, "pruned_messages": pruned, "pruned_results": results}


def prune_task_results(now: dt.datetime) -> int:
    """Finished task rows of the database backend older than a day (RQ expires its own)."""
    if "django_tasks_db" not in settings.INSTALLED_APPS or settings.TASKS_BACKEND != "database":
        return 0
    from django_tasks_db.models import DBTaskResult

    deleted, _ = (
        DBTaskResult.objects.finished().filter(finished_at__lt=now - TASK_RESULTS_KEPT).delete()
    )
    return deleted
