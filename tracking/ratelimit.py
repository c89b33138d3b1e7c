"""Fixed-window rate limits shared across workers and hosts.

With REDIS_URL set the counters live in Redis (atomic INCRBY); otherwise in the database (one
atomic upsert, tracking.db.counters). Never only in per-process memory, where each gunicorn
worker would grant its own allowance. Rates are strings like '10/h' (settings.env_rate checks
them). This module is the policy: what is counted, in which window, and when to refuse.

A large allowance is reserved in shares: a worker counts a thousandth of it (at most
LEASE_MAX) in the shared counter at once and spends that share from memory, so a client
allowed 100,000 requests a minute costs one statement per 100 of them, not one each. What a
worker has reserved is counted before it is spent, so no client ever gets more than its
limit; other workers' unspent shares can refuse it early by at most a thousandth of the limit
per worker. Limits under 2,000 per window (every default) reserve one at a time: exact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from tracking.db import counters
from tracking.models import RateCounter

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
LEASE_SHARE = 1000  # a worker reserves at most 1/LEASE_SHARE of an allowance at once...
LEASE_MAX = 100  # ...and never more than this many requests

# This worker's unspent reservations: counter -> (window key, requests left). One entry per
# limited thing it has seen, replaced when a new window starts.
_leases: dict[str, tuple[str, int]] = {}
_leases_lock = threading.Lock()


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    @classmethod
    def parse(cls, rate: str) -> Rate:
        count, unit = rate.split("/")
        return cls(limit=int(count), period=PERIODS[unit])

    @property
    def lease(self) -> int:
        """How many requests a worker reserves at once."""
        return max(1, min(self.limit // LEASE_SHARE, LEASE_MAX))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the window ends


@dataclass(frozen=True)
class _Window:
    counter: str  # one counter per limited thing (the database row, reused across windows)
    key: str  # one key per window of it (Redis, where each expires on its own)
    ends: int  # epoch seconds at which this window ends
    now: float


def _window(scope: str, ident: str, rate: Rate) -> _Window:
    now = time.time()
    index = int(now // rate.period)
    # Hashing keeps keys short and keeps client addresses out of the counter table.
    digest = hashlib.sha256(f"{scope}\x1f{ident}".encode()).hexdigest()[:32]
    counter = f"rl:{scope}:{digest}"
    return _Window(counter, f"{counter}:{index}", (index + 1) * rate.period, now)


def hit(scope: str, ident: str, rate: str) -> Decision:
    """Count one request against `ident`'s allowance; allowed while the count is within it."""
    parsed = Rate.parse(rate)
    window = _window(scope, ident, parsed)
    retry_after = max(1, math.ceil(window.ends - window.now))
    if parsed.lease > 1 and _spend_reserved(window):
        return Decision(allowed=True, count=0, limit=parsed.limit, retry_after=retry_after)
    count = _increment(window, parsed.lease)
    # The counter went from count - lease to count: this worker may serve what of that share
    # fits under the limit, this request first.
    granted = min(parsed.lease, parsed.limit - (count - parsed.lease))
    if granted > 1:
        with _leases_lock:
            _leases[window.counter] = (window.key, granted - 1)
    return Decision(
        allowed=granted > 0,
        count=count,
        limit=parsed.limit,
        retry_after=retry_after,
    )


def _spend_reserved(window: _Window) -> bool:
    with _leases_lock:
        key, left = _leases.get(window.counter, ("", 0))
        if key != window.key or left <= 0:
            return False
        _leases[window.counter] = (key, left - 1)
        return True


def peek(scope: str, ident: str, rate: str) -> Decision:
    """Whether `ident` still has allowance, without counting anything."""
    parsed = Rate.parse(rate)
    window = _window(scope, ident, parsed)
    count = _current(window)
    return Decision(
        allowed=count < parsed.limit,
        count=count,
        limit=parsed.limit,
        retry_after=max(1, math.ceil(window.ends - window.now)),
    )


def _uses_redis() -> bool:
    return bool(settings.REDIS_URL)


def _redis():
    """The raw client of the default (Redis) cache: a counter needs INCR and EXPIRE in one
    round trip, which the cache API cannot do."""
    return cache._cache.get_client(write=True)


def _ends_at(window: _Window) -> dt.datetime:
    return dt.datetime.fromtimestamp(window.ends, tz=dt.UTC)


def _increment(window: _Window, by: int) -> int:
    if _uses_redis():
        pipe = _redis().pipeline(transaction=True)
        pipe.incrby(window.key, by)
        pipe.expire(window.key, max(1, math.ceil(window.ends - window.now)) + 1, nx=True)
        count, _ = pipe.execute()
        return count
    return counters.increment(window.counter, _ends_at(window), by)


def _current(window: _Window) -> int:
    if _uses_redis():
        return int(_redis().get(window.key) or 0)
    return counters.current(window.counter, _ends_at(window))


def sweep(older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Delete the database counters of clients not seen for a while (cron: sweepratelimits)."""
    deleted, _ = RateCounter.objects.filter(expires_at__lt=timezone.now() - older_than).delete()
    return deleted


def client_address(request) -> str:
    """The client's address. Behind our TLS proxy (HTTPS=1) it is the last X-Forwarded-For
    entry, the one the proxy appended: earlier entries come from the client and can be forged.
    Otherwise it is the socket's peer."""
    if settings.HTTPS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")
