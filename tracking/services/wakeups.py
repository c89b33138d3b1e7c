"""Waking a worker once the writer's transaction commits (design section 7.2).

The rows of pending work are the truth and the queue only wakes workers, so a failure to
enqueue is logged and nothing more: the rows stay due and the minute's sweep finds them.
Services name the task by its dotted path, never importing the delivery floor above them.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def on_commit(task, *args, run_after: dt.datetime | None = None) -> None:
    """Enqueue `task` (a Task, or its dotted path) with `args` after the commit."""

    def enqueue():
        try:
            found = import_string(task) if isinstance(task, str) else task
            (found.using(run_after=run_after) if run_after else found).enqueue(*args)
        except Exception:  # the queue is only the wake-up; the rows are the truth
            logger.warning(
                "could not enqueue %s; the sweep will find its rows", task, exc_info=True
            )

    transaction.on_commit(enqueue)
