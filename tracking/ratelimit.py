"""Fixed-window rate limits shared across workers and hosts.

With REDIS_URL set the counters live in Redis (atomic INCR); otherwise in the database (one
atomic upsert per hit). Never in per-process memory, where each gunicorn worker would grant
its own allowance. Rates are strings like '10/h' (settings.env_rate checks them).
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from tracking.models import RateCounter

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    @classmethod
    def parse(cls, rate: str) -> Rate:
        count, unit = rate.split("/")
        return cls(limit=int(count), period=PERIODS[unit])


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the window ends


def _window(scope: str, ident: str, rate: Rate) -> tuple[str, int, float]:
    now = time.time()
    index = int(now // rate.period)
    # Hashing keeps keys short and keeps client addresses out of the counter table.
    digest = hashlib.sha256(f"{scope}\x1f{ident}".encode()).hexdigest()[:32]
    ends = (index + 1) * rate.period
    return f"rl:{scope}:{digest}:{index}", ends, now


def hit(scope: str, ident: str, rate: str) -> Decision:
    """Count one request against `ident`'s allowance; allowed while the count is within it."""
    parsed = Rate.parse(rate)
    key, ends, now = _window(scope, ident, parsed)
    count = _increment(key, ends)
    return Decision(
        allowed=count <= parsed.limit,
        count=count,
        limit=parsed.limit,
        retry_after=max(1, math.ceil(ends - now)),
    )


def peek(scope: str, ident: str, rate: str) -> Decision:
    """Whether `ident` still has allowance, without counting anything."""
    parsed = Rate.parse(rate)
    key, ends, now = _window(scope, ident, parsed)
    count = _current(key)
    return Decision(
        allowed=count < parsed.limit,
        count=count,
        limit=parsed.limit,
        retry_after=max(1, math.ceil(ends - now)),
    )


def _uses_redis() -> bool:
    return bool(settings.REDIS_URL)


def _redis():
    """The raw client of the default (Redis) cache: a counter needs INCR and EXPIRE in one
    round trip, which the cache API cannot do."""
    return cache._cache.get_client(write=True)


def _increment(key: str, ends: float) -> int:
    ttl = max(1, math.ceil(ends - time.time())) + 1
    if _uses_redis():
        pipe = _redis().pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, ttl, nx=True)
        count, _ = pipe.execute()
        return count
    expires = timezone.now() + timezone.timedelta(seconds=ttl)
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    with connection.cursor() as cursor:
        # One atomic statement on SQLite (3.35+) and PostgreSQL alike: concurrent hits on the
        # same key serialise on its row, so the limit is exceeded by at most one request.
        cursor.execute(
            f"INSERT INTO {table} (key, count, expires_at) VALUES (%s, 1, %s) "
            f"ON CONFLICT (key) DO UPDATE SET count = {table}.count + 1 RETURNING count",
            [key, expires],
        )
        count = cursor.fetchone()[0]
    if random.random() < 0.01:  # noqa: S311 - sweeping, not security
        RateCounter.objects.filter(expires_at__lt=timezone.now()).delete()
    return count


def _current(key: str) -> int:
    if _uses_redis():
        return int(_redis().get(key) or 0)
    return (
        RateCounter.objects.filter(key=key, expires_at__gte=timezone.now())
        .values_list("count", flat=True)
        .first()
        or 0
    )


def client_address(request) -> str:
    """The client's address. Behind our TLS proxy (HTTPS=1) it is the last X-Forwarded-For
    entry, the one the proxy appended: earlier entries come from the client and can be forged.
    Otherwise it is the socket's peer."""
    if settings.HTTPS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")
