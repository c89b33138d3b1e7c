"""Rows remembered per process, forgotten the moment PostgreSQL announces a change: the
customer pages' timeline heads, and the API keys.

A poll that finds nothing new should cost almost nothing, and a page must never lag behind the
database. On PostgreSQL, triggers announce on CHANNEL every change to a consignment's row,
which every write under it touches (tracking.services bumps its revision), every change to a
brand or a carrier (migrations 0006, 0008), and every change to an API key but its last_used
(KEY and its hashed secret, migration 0008), in commit order and whoever made it: the services,
the back office, a script. Each worker process listens on a connection of its own in a
background thread and drops what it remembered under the key named; until then that worker
answers from memory, without a query.

What is remembered is trusted only while the listener is provably up to date. It sends itself a
heartbeat through the channel every HEARTBEAT seconds; notifications arrive in commit order, so
hearing its own heartbeat back means every change committed before that heartbeat was sent has
been heard. If the last heartbeat heard was sent more than STALE_AFTER seconds ago, or the
connection is lost, the pages read the database as before until the listener has caught up.

The APIs never use this for consignments: a client that writes and then reads expects its
write back at once, from whichever worker answers. They do for their keys (tracking.api.auth):
a revoked key is refused once the revocation is heard.

SQLite has no notifications, but it can say whether anything at all changed: PRAGMA
data_version moves when another connection commits, and the connection's own writes move its
total_changes. QuietMemo remembers only while neither has moved since, which is exact without
any trust window; any write anywhere forgets everything, so it pays in the quiet spells between
a shop's writes (and costs one PRAGMA otherwise). Inside a transaction (and so in the tests,
whose transactions never commit) everything is read from the database on both.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import psycopg
from django.conf import settings
from django.db import connections

CHANNEL = "tracking_changes"
EVERYTHING = "*"  # the payload that means "forget everything" (a brand or carrier changed)
KEY = "key:"  # a payload of KEY and an API key's hashed secret: that key changed
HEARTBEAT = 0.5  # seconds between heartbeats
STALE_AFTER = 2.0  # seconds after which an unheard heartbeat stops the remembering
RETRY_AFTER = 1.0  # seconds before reconnecting a lost listener
CAPACITY = 2000  # remembered consignments per process (a few KB each)
APPLICATION_NAME = "tracking-changes"  # how the listeners show in pg_stat_activity

log = logging.getLogger(__name__)


class Memo:
    """Values remembered by key (a consignment reference, or KEY and an API key's hashed
    secret) until a change to it is heard."""

    def __init__(self, connect: Callable[[], psycopg.Connection]):
        self.pid = os.getpid()
        self._connect = connect
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, object]] = {}  # key -> (epoch, value)
        self._changed: dict[str, int] = {}  # key -> sequence number of its last change heard
        self._sequence = 0  # changes heard
        self._floor = 0  # loads begun before this were under a since-cleared _changed
        self._epoch = 0  # moves on whenever everything is forgotten
        self._connected = False
        self._caught_up_to = float("-inf")  # send time of the last own heartbeat heard back
        self._beat = f".{self.pid}.{id(self)}:"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="tracking-changes", daemon=True)
        self._thread.start()

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    @property
    def trusted(self) -> bool:
        return self._connected and time.monotonic() - self._caught_up_to < STALE_AFTER

    def get(self, key: str, load: Callable[[], object]) -> object:
        """The value remembered for key while it can be trusted; else load() (which reads the
        database), remembered unless a change to key was heard while it ran."""
        if self.trusted:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == self._epoch:
                return entry[1]
        with self._lock:
            sequence, epoch = self._sequence, self._epoch
        value = load()
        if value and self.trusted:
            with self._lock:
                unchanged = self._changed.get(key, 0) <= sequence and sequence >= self._floor
                if unchanged and epoch == self._epoch:
                    if len(self._entries) >= CAPACITY:
                        del self._entries[next(iter(self._entries))]  # the oldest
                    self._entries[key] = (epoch, value)
        return value

    def caught_up(self, timeout: float = 5.0) -> bool:
        """Wait until a heartbeat sent now (through the default connection, outside any
        transaction) has been heard back: every change committed before this call has then
        been heard. For tests."""
        sent = time.monotonic()
        deadline = sent + timeout
        if self._connected:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, self._beat_sent(sent)])
        while time.monotonic() < deadline:
            if self._connected and self._caught_up_to >= sent:
                return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    # -- The listener thread -------------------------------------------------------------------

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._connect() as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    # A load begun before now may have missed a change committed while
                    # nobody was listening: none of them may be kept.
                    with self._lock:
                        self._forget()
                    self._connected = True
                    while not self._stopping.is_set():
                        beat = self._beat_sent(time.monotonic())
                        connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, beat))
                        for note in connection.notifies(timeout=HEARTBEAT):
                            self._hear(note.payload)
            except Exception as error:  # any failure: forget, say so once, and reconnect
                if self._connected:
                    log.warning("tracking changes: listener lost its connection: %s", error)
                else:
                    log.debug("tracking changes: listener cannot connect: %s", error)
            self._connected = False
            self._caught_up_to = float("-inf")
            with self._lock:
                self._forget()
            self._stopping.wait(RETRY_AFTER)

    def _beat_sent(self, when: float) -> str:
        """This memo's heartbeat, carrying the moment it was sent."""
        return f"{self._beat}{when!r}"

    def _hear(self, payload: str) -> None:
        if payload.startswith("."):
            if payload.startswith(self._beat):
                sent = float(payload[len(self._beat) :])
                self._caught_up_to = max(self._caught_up_to, sent)  # beats may cross
            return  # another worker's heartbeat
        with self._lock:
            self._sequence += 1
            if payload == EVERYTHING:
                self._forget()
                return
            self._entries.pop(payload, None)
            self._changed[payload] = self._sequence
            if len(self._changed) > CAPACITY * 8:
                self._changed.clear()
                self._floor = self._sequence + 1

    def _forget(self) -> None:
        self._epoch += 1
        self._entries.clear()


class QuietMemo:
    """SQLite's memo: values remembered per connection (so per thread) while the database has
    not changed at all since they were read."""

    stopped = False

    def __init__(self):
        self.pid = os.getpid()
        self._local = threading.local()

    def get(self, key: str, load: Callable[[], object]) -> object:
        connection = connections["default"]
        if connection.in_atomic_block:
            return load()  # what it reads may yet be rolled back
        connection.ensure_connection()
        raw = connection.connection
        with connection.wrap_database_errors:
            stamp = (raw.execute("PRAGMA data_version").fetchone()[0], raw.total_changes)
        local = self._local
        if getattr(local, "stamp", None) != stamp:
            local.stamp, local.entries = stamp, {}
        entries = local.entries
        if key in entries:
            return entries[key]
        # Read after the stamp was taken, so at least as new as it: a change committed
        # meanwhile moves data_version, and the next get() forgets this too.
        value = load()
        if value:
            if len(entries) >= CAPACITY:
                del entries[next(iter(entries))]  # the oldest
            entries[key] = value
        return value

    def stop(self) -> None:
        self._local = threading.local()


def _connect_default() -> psycopg.Connection:
    """A connection of its own to the default database, made as Django makes its own (so SSL
    and other options in DATABASE_URL apply), in autocommit: LISTEN takes effect at once."""
    params = connections["default"].get_connection_params()
    params.pop("prepare_threshold", None)  # nothing to prepare on this connection
    params.update(autocommit=True, application_name=APPLICATION_NAME)
    return psycopg.connect(**params)


_memo: Memo | QuietMemo | None = None
_starting = threading.Lock()


def memo() -> Memo | QuietMemo | None:
    """This process's memo (QuietMemo on SQLite), or None where it is off (PgBouncer in
    transaction mode, TIMELINE_MEMO=0). Started on first use in each process, so a forked
    gunicorn worker never inherits its parent's, and again after stop() (as tests do)."""
    global _memo
    if not settings.TIMELINE_MEMO:
        return None
    current = _memo
    if current is None or current.pid != os.getpid() or current.stopped:
        with _starting:
            if _memo is None or _memo.pid != os.getpid() or _memo.stopped:
                if connections["default"].vendor == "sqlite":
                    _memo = QuietMemo()
                else:
                    _memo = Memo(_connect_default)
            current = _memo
    return current
