"""One copy of each scheduled task in the queue (the sweep's chain and the next retry), and
the lease by which one worker takes due rows.

A task enqueued with run_after is a row (database backend) or a scheduled job (RQ); enqueueing
one at every write or every retry would fill the queue with copies. A Wakeup row per name
says when the next one runs and which copy owns the schedule; a copy holding another token
knows it is stale and does nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction
from django.utils import timezone

from tracking.models import Wakeup
from tracking.services import wakeups

SWEEP = "sweep"
SWEEP_EVERY = dt.timedelta(minutes=1)
# A sweep this late has been lost (its worker died, the queue was flushed): start another.
SWEEP_LOST_AFTER = dt.timedelta(minutes=3)
RETRY = "retry"
EMAIL = "email"


@transaction.atomic
def retry_at(task, at: dt.datetime, *, name: str = RETRY) -> bool:
    """Make sure a copy of `task` runs at `at` (or sooner); True when one was enqueued."""
    now = timezone.now()
    row = Wakeup.objects.select_for_update().filter(name=name).first()
    if row is not None and now <= row.run_at <= at:
        return False  # one is already due sooner
    token = uuid.uuid4().hex
    Wakeup.objects.update_or_create(name=name, defaults={"run_at": at, "token": token})
    wakeups.on_commit(task, run_after=at if at > now else None)
    return True


def owns_sweep(token: str) -> bool:
    return Wakeup.objects.filter(name=SWEEP, token=token).exists()


@transaction.atomic
def schedule_sweep(task, *, replacing: str | None = None, force: bool = False) -> str | None:
    """Enqueue the next sweep a minute from now. `replacing` is the token of the sweep that is
    running (only its owner continues the chain); with neither it starts a chain only when
    none is alive (never run, or lost). Returns the new token, or None when nothing changed."""
    now = timezone.now()
    row = Wakeup.objects.select_for_update().filter(name=SWEEP).first()
    if row is not None and not force:
        if replacing is not None and row.token != replacing:
            return None
        if replacing is None and row.run_at + SWEEP_LOST_AFTER > now:
            return None
    token = uuid.uuid4().hex
    run_at = now + SWEEP_EVERY
    Wakeup.objects.update_or_create(name=SWEEP, defaults={"run_at": run_at, "token": token})
    wakeups.on_commit(task, token, run_after=run_at)
    return token


def lease(model, due, *, order: str, limit: int, hold: dt.timedelta, choose=None) -> str | None:
    """Lease up to `limit` rows of `model` matching `due` (and `choose`, when picking) to this
    worker, oldest `order` first; the lease's token, or None when nothing is due. The `due`
    condition is checked again row by row as the UPDATE takes each row's lock, so of two
    workers that picked the same rows, each row goes to one."""
    picked = model.objects.filter(due)
    if choose is not None:
        picked = picked.filter(choose)
    candidates = list(picked.order_by(order).values_list("pk", flat=True)[:limit])
    if not candidates:
        return None
    token = uuid.uuid4().hex
    model.objects.filter(due, pk__in=candidates).update(
        lease=token, leased_until=timezone.now() + hold
    )
    return token
