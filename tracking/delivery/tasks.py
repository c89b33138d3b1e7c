"""The Tasks API entry points (django-tasks): what a worker runs, by dotted path.

`deliver_webhooks` drains the due webhook messages and `send_emails` the due notification
emails; each makes sure a copy runs when its next retry falls due. `sweep` runs every minute
(it re-enqueues itself): it wakes both for anything due whose task was lost, prunes old
messages, emails and finished task results, and keeps the chain alive. All are safe to run
twice at once.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from tracking.delivery import emails, schedule, webhooks
from tracking.services import wakeups

logger = logging.getLogger(__name__)

TASK_RESULTS_KEPT = dt.timedelta(days=1)


@task()
def deliver_webhooks() -> int:
    wakeups.started(deliver_webhooks)
    attempted = webhooks.drain()
    upcoming = webhooks.next_retry_at()
    if upcoming is not None:
        schedule.retry_at(deliver_webhooks, max(upcoming, timezone.now()), name=schedule.RETRY)
    schedule.schedule_sweep(sweep)  # starts the chain if it was never started or was lost
    return attempted


@task()
def send_emails() -> int:
    wakeups.started(send_emails)
    sent = emails.drain()
    upcoming = emails.next_due_at()
    if upcoming is not None:
        schedule.retry_at(send_emails, max(upcoming, timezone.now()), name=schedule.EMAIL)
    schedule.schedule_sweep(sweep)
    return sent


@task()
def sweep(token: str = "") -> dict:
    """One minute's housekeeping. A copy whose token no longer owns the schedule stops."""
    if token and not schedule.owns_sweep(token):
        return {"stale": True}
    now = timezone.now()
    due = webhooks.oldest_due(now) is not None
    if due:
        deliver_webhooks.enqueue()
    emails_due = emails.oldest_due(now) is not None
    if emails_due:
        send_emails.enqueue()
    pruned = webhooks.prune(now)
    pruned_emails = emails.prune(now)
    results = prune_task_results(now)
    schedule.schedule_sweep(sweep, replacing=token or None, force=not token)
    return {
        "due": due,
        "emails_due": emails_due,
        "pruned_messages": pruned,
        "pruned_emails": pruned_emails,
        "pruned_results": results,
    }


def prune_task_results(now: dt.datetime) -> int:
    """Finished task rows of the database backend older than a day (RQ expires its own)."""
    if "django_tasks_db" not in settings.INSTALLED_APPS or settings.TASKS_BACKEND != "database":
        return 0
    from django_tasks_db.models import DBTaskResult

    deleted, _ = (
        DBTaskResult.objects.finished().filter(finished_at__lt=now - TASK_RESULTS_KEPT).delete()
    )
    return deleted
