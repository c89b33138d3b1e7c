"""The rate limits' counters when they live in the database: one atomic upsert per count.

tracking.ratelimit decides what is counted and what the limits are; this module only keeps the
counts, one reused row per limited thing (RateCounter).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from tracking.models import RateCounter


def increment(counter: str, window_ends: dt.datetime, by: int = 1) -> int:
    """Count `by` hits on `counter` in the window ending at `window_ends`; the count so far."""
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    with connection.cursor() as cursor:
        # One atomic statement on SQLite (3.35+) and PostgreSQL alike: concurrent hits on the
        # same counter serialise on its row, so the limit is exceeded by at most one request.
        # The row is reused: a hit in a later window than the row's starts it again, so
        # nothing needs sweeping while requests are served.
        cursor.execute(
            f"INSERT INTO {table} (key, count, expires_at) VALUES (%s, %s, %s) "
            f"ON CONFLICT (key) DO UPDATE SET "
            f"count = CASE WHEN {table}.expires_at >= excluded.expires_at "
            f"THEN {table}.count + excluded.count ELSE excluded.count END, "
            f"expires_at = CASE WHEN {table}.expires_at >= excluded.expires_at "
            f"THEN {table}.expires_at ELSE excluded.expires_at END "
            f"RETURNING count",
            [counter, by, window_ends],
        )
        return cursor.fetchone()[0]


def current(counter: str, window_ends: dt.datetime) -> int:
    """The hits counted on `counter` in the window ending at `window_ends`."""
    return (
        RateCounter.objects.filter(key=counter, expires_at__gte=window_ends)
        .values_list("count", flat=True)
        .first()
        or 0
    )
