"""Waking a worker once the writer's transaction commits (design section 7.2).

The rows of pending work are the truth and the queue only wakes workers, so a failure to
enqueue is logged and nothing more: the rows stay due and the minute's sweep finds them.
Services name the task by its dotted path, never importing the delivery floor above them.

A drain task takes everything due when it starts, so a write needs no wake-up of its own while
one is queued and not yet started: `wake` enqueues only then, and the task calls `started`
first thing. On the database backend "queued" is a ready row of the task; on RQ it is a marker
beside the queue, set with the enqueue and cleared by `started`. A carrier posting thirty
batches a second thus costs the queue about one job per drain, not thirty.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from functools import cache

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskResultStatus

from tracking.db.prepared import PreparedQuery

logger = logging.getLogger(__name__)

# How long an RQ marker outlives a job that never started (Redis emptied, a queue lost): after
# it a write enqueues again, and before it the sweep already wakes anything due.
MARKER_SECONDS = 60


def on_commit(task, *args, run_after: dt.datetime | None = None) -> None:
    """Enqueue `task` (a Task, or its dotted path) with `args` after the commit."""

    def enqueue():
        try:
            found = _task(task)
            (found.using(run_after=run_after) if run_after else found).enqueue(*args)
        except Exception:  # the queue is only the wake-up; the rows are the truth
            logger.warning(
                "could not enqueue %s; the sweep will find its rows", task, exc_info=True
            )

    transaction.on_commit(enqueue)


def wake(task, *, run_after: dt.datetime | None = None) -> None:
    """After the commit, make sure a copy of the drain `task` (no arguments) starts: enqueue
    one unless a copy is already queued and has not started, which will see this write. A
    wake-up for later (`run_after`) is always enqueued."""
    if run_after is not None:
        on_commit(task, run_after=run_after)
        return

    def enqueue():
        found = _task(task)
        try:
            if not _already_queued(found):
                found.enqueue()
        except Exception:
            with contextlib.suppress(Exception):  # nothing was queued: the next write enqueues
                _forget(found)
            logger.warning(
                "could not enqueue %s; the sweep will find its rows", task, exc_info=True
            )

    transaction.on_commit(enqueue)


def started(task) -> None:
    """A drain task's first step: writes from now on need a copy of their own."""
    try:
        _forget(_task(task))
    except Exception:  # the marker expires by itself; meanwhile the sweep wakes what is due
        logger.warning("could not clear the wake-up marker of %s", task, exc_info=True)


def _task(task):
    return import_string(task) if isinstance(task, str) else task


def _already_queued(task) -> bool:
    """Whether a copy of `task` is queued, due and not started. On RQ this sets the marker
    when it was free, claiming the enqueue that follows."""
    backend = _backend_kind(task)
    if backend == "database":
        alias = task.get_backend().alias
        return bool(
            _ready_copy().rows(task_path=task.module_path, backend=alias, now=timezone.now())
        )
    if backend == "rq":
        marked = _redis_for(task.queue_name).set(_marker(task), "1", nx=True, ex=MARKER_SECONDS)
        return not marked
    return False  # another backend: always enqueue


def _backend_kind(task) -> str:
    """Which backend runs `task`: "database", "rq" or "" (any other: no coalescing)."""
    module = type(task.get_backend()).__module__
    if module.startswith("django_tasks_db"):
        return "database"
    return "rq" if module.startswith("django_tasks_rq") else ""


@cache
def _ready_copy() -> PreparedQuery:
    """django-tasks-db's `ready()` for one task, compiled once: a write pays only the query."""
    from django_tasks_db.models import DBTaskResult, get_date_max

    def build(task_path, backend, now):
        ready = Q(run_after=get_date_max()) | Q(run_after__lte=now)
        rows = DBTaskResult.objects.filter(
            ready, status=TaskResultStatus.READY, task_path=task_path, backend_name=backend
        )
        return rows.values_list("pk")[:1]

    field = DBTaskResult._meta.get_field
    return PreparedQuery(
        build, task_path=field("task_path"), backend=field("backend_name"), now=field("run_after")
    )


def _forget(task) -> None:
    """Clear the RQ marker of `task`, if it has one."""
    if _backend_kind(task) == "rq":
        _redis_for(task.queue_name).delete(_marker(task))


def _marker(task) -> str:
    return f"tracking:wake:{task.queue_name}:{task.module_path}"


@cache
def _redis_for(queue_name: str):
    """One client (and its pool) per process and queue: django_rq makes a new one per call."""
    import django_rq

    return django_rq.get_connection(queue_name)
