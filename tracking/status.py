"""Codes, statuses, progress stages and the rules that derive one from the other.

Pure Python with no ORM: every page, API and service asks this module what an event means,
so the rules live (and are tested) in exactly one place.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


class Status(IntEnum):
    """Consignly's integer tracking statuses, the storage and wire format of a status."""

    UNKNOWN = 0
    PRINTED = 1
    DISPATCHED = 2
    IN_TRANSIT = 3
    OUT_FOR_DELIVERY = 4
    DELIVERED = 5
    PICKUP_IN_STORE = 6
    ATTEMPTED_DELIVERY = 7
    EXCEPTION = 8
    AWAITING_COLLECTION = 9
    CANCELLED = 10
    MANIFESTED = 11


STATUS_MIN = min(Status)
STATUS_MAX = max(Status)

# The names Consignly documents for each value, used in the API schema and the admin.
STATUS_NAMES = {
    Status.UNKNOWN: "Unknown",
    Status.PRINTED: "Printed",
    Status.DISPATCHED: "Dispatched",
    Status.IN_TRANSIT: "InTransit",
    Status.OUT_FOR_DELIVERY: "OutForDelivery",
    Status.DELIVERED: "Delivered",
    Status.PICKUP_IN_STORE: "PickupInStore",
    Status.ATTEMPTED_DELIVERY: "AttemptedDelivery",
    Status.EXCEPTION: "Exception",
    Status.AWAITING_COLLECTION: "AwaitingCollection",
    Status.CANCELLED: "Cancelled",
    Status.MANIFESTED: "Manifested",
}

# What a customer reads for each status.
STATUS_LABELS = {
    Status.UNKNOWN: _("Status unknown"),
    Status.PRINTED: _("Label created"),
    Status.DISPATCHED: _("Dispatched"),
    Status.IN_TRANSIT: _("In transit"),
    Status.OUT_FOR_DELIVERY: _("Out for delivery"),
    Status.DELIVERED: _("Delivered"),
    Status.PICKUP_IN_STORE: _("Ready for pickup"),
    Status.ATTEMPTED_DELIVERY: _("Delivery attempted"),
    Status.EXCEPTION: _("Problem with delivery"),
    Status.AWAITING_COLLECTION: _("Awaiting collection by the carrier"),
    Status.CANCELLED: _("Cancelled"),
    Status.MANIFESTED: _("Handed to the carrier's system"),
}

STATUS_CHOICES = [(int(status), f"{int(status)} {STATUS_NAMES[status]}") for status in Status]

# Sorted's normalised event codes (upper-cased) and the codes we add for statuses Sorted has no
# code for, each mapped to the status it means. Codes not listed are stored with status 0.
CODE_STATUS: dict[str, Status] = {
    "FOR_INFORMATION": Status.UNKNOWN,
    "CARRIER_CHANGED": Status.UNKNOWN,
    "LABEL_PRINTED": Status.PRINTED,
    "MANIFESTED": Status.MANIFESTED,
    "AWAITING_DROP_OFF": Status.AWAITING_COLLECTION,
    "COLLECTED_BY_CARRIER": Status.DISPATCHED,
    "DROPPED_OFF": Status.DISPATCHED,
    "IN_TRANSIT": Status.IN_TRANSIT,
    "IN_TRANSIT_WAITING": Status.IN_TRANSIT,
    "AT_CUSTOMS": Status.IN_TRANSIT,
    "CLEARED_THROUGH_CUSTOMS": Status.IN_TRANSIT,
    "DELAYED": Status.IN_TRANSIT,
    # Our additions: hold-ups carriers report in their own words (kind delay, below).
    "WEATHER_DELAY": Status.IN_TRANSIT,
    "CUSTOMS_HOLD": Status.IN_TRANSIT,
    "ADDRESS_QUERY": Status.IN_TRANSIT,
    "MISSED_CONNECTION": Status.IN_TRANSIT,
    "PARTIALLY_DELIVERED": Status.IN_TRANSIT,
    "OUT_FOR_DELIVERY": Status.OUT_FOR_DELIVERY,
    "AT_COLLECTION_POINT": Status.PICKUP_IN_STORE,
    "DELIVERY_FAILED": Status.ATTEMPTED_DELIVERY,
    "DELIVERY_FAILED_CARD_LEFT": Status.ATTEMPTED_DELIVERY,
    "DELIVERED": Status.DELIVERED,
    "DELIVERED_DAMAGED": Status.DELIVERED,
    "EXCHANGE_SUCCEEDED": Status.DELIVERED,
    "EXCEPTION": Status.EXCEPTION,
    "ACTION_REQUIRED": Status.EXCEPTION,
    "HELD_BY_CARRIER": Status.EXCEPTION,
    "COLLECTION_FAILED": Status.EXCEPTION,
    "FAILED_TO_COLLECT": Status.EXCEPTION,
    "EXCHANGE_FAILED": Status.EXCEPTION,
    "DAMAGED": Status.EXCEPTION,
    "LOST": Status.EXCEPTION,
    "MISSING": Status.EXCEPTION,
    "DESTROYED": Status.EXCEPTION,
    "RETURNED_TO_SENDER": Status.EXCEPTION,
    "CANCELLED": Status.CANCELLED,
}

# The code an event gets when it is created from a bare status (Consignly's API speaks statuses).
STATUS_CODE: dict[Status, str] = {
    Status.UNKNOWN: "FOR_INFORMATION",
    Status.PRINTED: "LABEL_PRINTED",
    Status.DISPATCHED: "COLLECTED_BY_CARRIER",
    Status.IN_TRANSIT: "IN_TRANSIT",
    Status.OUT_FOR_DELIVERY: "OUT_FOR_DELIVERY",
    Status.DELIVERED: "DELIVERED",
    Status.PICKUP_IN_STORE: "AT_COLLECTION_POINT",
    Status.ATTEMPTED_DELIVERY: "DELIVERY_FAILED",
    Status.EXCEPTION: "EXCEPTION",
    Status.AWAITING_COLLECTION: "AWAITING_DROP_OFF",
    Status.CANCELLED: "CANCELLED",
    Status.MANIFESTED: "MANIFESTED",
}

CODE_MAX_LENGTH = 50
_CODE_SHAPE = re.compile(r"^[A-Z0-9]+(_[A-Z0-9]+)*\Z")
_CODE_SEPARATORS = re.compile(r"[\s\-]+")


@functools.lru_cache(maxsize=4096)  # a carrier's feed repeats a handful of codes
def normalise_code(raw: str) -> str:
    """Upper-snake form of a carrier's code ('Out for-delivery' -> 'OUT_FOR_DELIVERY').

    Raises ValueError naming the rule when the result is not a plausible code.
    """
    code = _CODE_SEPARATORS.sub("_", raw.strip()).upper()
    if not code:
        raise ValueError("must not be blank")
    if len(code) > CODE_MAX_LENGTH:
        raise ValueError(f"must be at most {CODE_MAX_LENGTH} characters")
    if not _CODE_SHAPE.match(code):
        raise ValueError("must be letters, digits and underscores, like DELIVERED")
    return code


def status_for_code(code: str) -> Status:
    return CODE_STATUS.get(code, Status.UNKNOWN)


def code_for_status(status: int) -> str:
    return STATUS_CODE[Status(status)]


def status_label(status: int) -> str:
    return str(STATUS_LABELS[Status(status)])


# -- Progress stages and kinds of code -------------------------------------------------------


class Stage(IntEnum):
    LABEL_CREATED = 0
    DISPATCHED = 1
    IN_TRANSIT = 2
    OUT_FOR_DELIVERY = 3
    DELIVERED = 4


STAGE_LABELS = {
    Stage.LABEL_CREATED: _("Label created"),
    Stage.DISPATCHED: _("Dispatched"),
    Stage.IN_TRANSIT: _("In transit"),
    Stage.OUT_FOR_DELIVERY: _("Out for delivery"),
    Stage.DELIVERED: _("Delivered"),
}

# The stage each normal status stands for. Unknown (information) and the problem statuses
# have none; a failed attempt proves the parcel was out for delivery (PROBLEM_STAGE).
STATUS_STAGE: dict[Status, Stage] = {
    Status.PRINTED: Stage.LABEL_CREATED,
    Status.AWAITING_COLLECTION: Stage.LABEL_CREATED,
    Status.MANIFESTED: Stage.LABEL_CREATED,
    Status.DISPATCHED: Stage.DISPATCHED,
    Status.IN_TRANSIT: Stage.IN_TRANSIT,
    Status.OUT_FOR_DELIVERY: Stage.OUT_FOR_DELIVERY,
    Status.PICKUP_IN_STORE: Stage.OUT_FOR_DELIVERY,
    Status.DELIVERED: Stage.DELIVERED,
}
PROBLEM_STAGE: dict[Status, Stage] = {Status.ATTEMPTED_DELIVERY: Stage.OUT_FOR_DELIVERY}

# Statuses shown as a warning at the stage reached rather than as a stage of their own.
WARNING_STATUSES = frozenset({Status.ATTEMPTED_DELIVERY, Status.EXCEPTION, Status.CANCELLED})


class Kind(IntEnum):
    """What an event does to a parcel's standing (design section 1). The values order events
    at the same instant: a warning over progress, a problem over a delay."""

    INFORMATION = 0  # status 0: neither moves the stage nor raises or clears a warning
    PROGRESS = 1  # moves the stage forward and clears a warning
    DELAY = 2  # a warning at the stage reached; the status stays
    PROBLEM = 3  # status 7, 8 or 10: a warning, and the status while it is the newest


# Codes that report a hold-up: the parcel keeps its status (say, In transit) with a warning.
DELAY_CODES = frozenset(
    {"DELAYED", "WEATHER_DELAY", "CUSTOMS_HOLD", "ADDRESS_QUERY", "MISSED_CONNECTION"}
)


def kind_of(code: str, status: int) -> Kind:
    if status in WARNING_STATUSES:
        return Kind.PROBLEM
    if code in DELAY_CODES:
        return Kind.DELAY
    if status == Status.UNKNOWN:
        return Kind.INFORMATION
    return Kind.PROGRESS


class Warning(IntEnum):  # noqa: A001 - the name the page and the admin speak of
    """The warning a leg, package or consignment carries now (stored as this value)."""

    NONE = 0
    DELAY = 1
    PROBLEM = 2


WARNING_CHOICES = [(0, "none"), (1, "delay"), (2, "problem")]


# -- Deriving a status from events ----------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Mark:
    """An event's place in the replay: when it happened, then a fixed order for events at the
    same instant (a problem, then a delay, over progress; then the later stage; then the
    status; then `tiebreak`), never when it was received, so any arrival order, in one write or
    several, gives the same result. `event` carries whatever the caller wants back (the page
    passes its event rows) and takes no part in the comparison."""

    occurred_at: datetime
    kind: Kind
    stage: int  # -1 where the event has none
    status: int
    tiebreak: tuple = ()
    event: object = field(default=None, compare=False)


def mark(
    occurred_at: datetime, status: int, code: str, *, tiebreak: tuple = (), event: object = None
) -> Mark | None:
    """The Mark of an event, or None for an information event (it takes no part)."""
    parts = _mark_parts(status, code)
    if parts is None:
        return None
    return Mark(occurred_at, *parts, tiebreak, event)


@functools.lru_cache(maxsize=4096)  # a feed repeats a handful of (status, code) pairs
def _mark_parts(status: int, code: str) -> tuple[Kind, int, int] | None:
    kind = kind_of(code, status)
    if kind is Kind.INFORMATION:
        return None
    if kind is Kind.DELAY:  # a delay keeps the status: only its moment counts
        return kind, -1, 0
    status = Status(status)
    stage = STATUS_STAGE[status] if kind is Kind.PROGRESS else PROBLEM_STAGE.get(status)
    return kind, -1 if stage is None else int(stage), int(status)


def is_carrier_scan(status: int, code: str) -> bool:
    """A carrier's scan of the parcel: an event at Dispatched or later (a failed attempt too),
    where transit starts for the support desk's figures (delays and information are not)."""
    parts = _mark_parts(status, code)
    return parts is not None and parts[1] >= Stage.DISPATCHED


def statuses_at(stage: Stage) -> tuple[Status, ...]:
    """The normal statuses of one stage (STATUS_STAGE), in value order."""
    return tuple(sorted(status for status, at in STATUS_STAGE.items() if at == stage))


def _newer(a: Mark | None, b: Mark | None) -> Mark | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if b > a else a


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a leg or package stands after replaying its events in occurrence order with
    "never back without evidence" (design section 1), kept in the closed form that replay
    reduces to, so events can be added in any order and batch and give the same result:

    - the stage is the furthest any progress event (or failed attempt) reached;
    - the status is that of the newest event among the problems and the progress events at
      that stage (a normal status at an earlier stage never moves the parcel back);
    - the warning is the newest of those and the delays: a problem or a delay warns until a
      later progress event at the stage reached clears it.

    tests/test_status.py checks this form against the literal replay.
    """

    stage: Stage = Stage.LABEL_CREATED
    progress: Mark | None = None  # the newest progress event at `stage`
    problem: Mark | None = None  # the newest problem
    delay: Mark | None = None  # the newest delay

    @classmethod
    def from_columns(
        cls, stage, progress_at, progress_status, problem_at, problem_status, delay_at
    ) -> Standing:
        """A Standing from its stored columns (models.STANDING_COLUMNS)."""
        progress = problem = delay = None
        if progress_at is not None:
            progress = mark(progress_at, progress_status, "")
        if problem_at is not None:
            problem = mark(problem_at, problem_status, "")
        if delay_at is not None:
            delay = Mark(delay_at, Kind.DELAY, -1, 0)
        return cls(Stage(stage), progress, problem, delay)

    def columns(self) -> tuple:
        """What is stored (models.DERIVED_COLUMNS): the status and warning, then the standing."""
        progress, problem, delay = self.progress, self.problem, self.delay
        return (
            int(self.status),
            int(self.warning),
            int(self.stage),
            progress.occurred_at if progress else None,
            progress.status if progress else 0,
            problem.occurred_at if problem else None,
            problem.status if problem else 0,
            delay.occurred_at if delay else None,
        )

    def add(self, new: Mark | None) -> Standing:
        return self.add_all((new,))

    def add_all(self, marks: Iterable[Mark | None]) -> Standing:
        # One pass over plain locals: a batch adds thousands of events to hundreds of these.
        stage, progress, problem, delay = self.stage, self.progress, self.problem, self.delay
        for new in marks:
            if new is None:
                continue
            kind = new.kind
            if kind is Kind.DELAY:
                if delay is None or new > delay:
                    delay = new
                continue
            if kind is Kind.PROBLEM:
                if problem is None or new > problem:
                    problem = new
            elif new.stage == stage and (progress is None or new > progress):
                progress = new
            if new.stage > stage:
                stage = new.stage
                progress = new if kind is Kind.PROGRESS else None
        return Standing(Stage(stage), progress, problem, delay)

    @property
    def latest(self) -> Mark | None:
        """The event that sets the status: the customer's "latest update"."""
        return _newer(self.progress, self.problem)

    @property
    def status(self) -> Status:
        latest = self.latest
        return Status(latest.status) if latest else Status.UNKNOWN

    @property
    def warning_mark(self) -> Mark | None:
        """The problem or delay the customer is warned of, or None."""
        newest = _newer(_newer(self.progress, self.problem), self.delay)
        return newest if newest is not None and newest.kind is not Kind.PROGRESS else None

    @property
    def warning(self) -> Warning:
        warned = self.warning_mark
        if warned is None:
            return Warning.NONE
        return Warning.PROBLEM if warned.kind is Kind.PROBLEM else Warning.DELAY


def standing(marks: Iterable[Mark | None]) -> Standing:
    return Standing().add_all(marks)


def replay(marks: Iterable[Mark | None]) -> tuple[Stage, Status, Warning]:
    """The rules as design section 1 states them, event by event in occurrence order. Slower
    than Standing and kept as its specification: the tests check that both agree."""
    stage, status, warning = Stage.LABEL_CREATED, Status.UNKNOWN, Warning.NONE
    for event in sorted(m for m in marks if m is not None):
        if event.kind is Kind.DELAY:
            warning = Warning.DELAY
        elif event.kind is Kind.PROBLEM:
            status, warning = Status(event.status), Warning.PROBLEM
            stage = max(stage, Stage(event.stage)) if event.stage >= 0 else stage
        elif event.stage >= stage:
            stage, status, warning = Stage(event.stage), Status(event.status), Warning.NONE
    return stage, status, warning


# A consignment whose packages all reached one of these will not change again by itself.
FINAL_STATUSES = frozenset({Status.DELIVERED, Status.CANCELLED})


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a package (or a whole consignment) stands on the five-step stepper, with the
    events behind it: `latest` sets the status, `warned` is the problem or delay warned of."""

    stage: Stage
    status: Status
    warning: Warning = Warning.NONE
    latest: Mark | None = None
    warned: Mark | None = None

    @property
    def problem_status(self) -> Status | None:
        """The problem status warned of (a failed attempt, an exception, a cancellation)."""
        if self.warned is None or self.warned.kind is not Kind.PROBLEM:
            return None
        return Status(self.warned.status)

    @property
    def percent(self) -> int:
        return round(100 * self.stage / Stage.DELIVERED)

    @property
    def stage_label(self) -> str:
        return str(STAGE_LABELS[self.stage])

    @property
    def status_label(self) -> str:
        return status_label(self.status)

    def steps(self) -> list[dict]:
        """The stepper: one entry per stage, marked done, current or upcoming."""
        return [
            {
                "stage": stage,
                "label": str(STAGE_LABELS[stage]),
                "state": (
                    "done"
                    if stage < self.stage or (stage == self.stage == Stage.DELIVERED)
                    else "current"
                    if stage == self.stage
                    else "upcoming"
                ),
            }
            for stage in Stage
        ]


def progress(marks: Iterable[Mark | None]) -> Progress:
    """A package's progress from its events' marks (across all its legs)."""
    found = standing(marks)
    return Progress(
        stage=found.stage,
        status=found.status,
        warning=found.warning,
        latest=found.latest,
        warned=found.warning_mark,
    )


def combined_progress(progresses: Iterable[Progress], status: int) -> Progress:
    """A consignment's stepper: the stage of its least advanced live package, with the
    consignment's status and the gravest warning of its live packages (a problem over a delay,
    then the newest)."""
    progresses = list(progresses)
    live = [p for p in progresses if p.status != Status.CANCELLED] or progresses
    stage = min((p.stage for p in live), default=Stage.LABEL_CREATED)
    warned = max(
        (p.warned for p in live if p.warned is not None),
        key=lambda m: (m.kind, m),
        default=None,
    )
    latest = max((p.latest for p in live if p.latest is not None), default=None)
    warning = Warning.NONE
    if warned is not None:
        warning = Warning.PROBLEM if warned.kind is Kind.PROBLEM else Warning.DELAY
    return Progress(
        stage=stage, status=Status(status), warning=warning, latest=latest, warned=warned
    )


# -- A consignment's roll-up ---------------------------------------------------------------------


def consignment_status(package_statuses: Iterable[int]) -> Status:
    """One status for a consignment from its packages' statuses.

    Cancelled only when every package is; otherwise an exception or failed attempt on any live
    package wins (it needs the customer's attention), then the least advanced package, so the
    consignment never claims more progress than its slowest parcel.
    """
    statuses = [Status(s) for s in package_statuses]
    if not statuses:
        return Status.UNKNOWN
    live = [s for s in statuses if s != Status.CANCELLED]
    if not live:
        return Status.CANCELLED
    for urgent in (Status.EXCEPTION, Status.ATTEMPTED_DELIVERY):
        if urgent in live:
            return urgent
    return min(
        live,
        key=lambda s: (STATUS_STAGE.get(s, Stage.LABEL_CREATED), s != Status.UNKNOWN, s),
    )


def consignment_warning(packages: Iterable[tuple[int, int]]) -> Warning:
    """A consignment's warning from its packages' (status, warning): the gravest of its live
    packages' (all of them when every package is cancelled)."""
    packages = list(packages)
    live = [w for s, w in packages if s != Status.CANCELLED] or [w for _s, w in packages]
    return Warning(max(live, default=Warning.NONE))


def is_final(package_statuses: Iterable[int]) -> bool:
    """True when every package is delivered or cancelled: the page stops polling."""
    statuses = list(package_statuses)
    return bool(statuses) and all(Status(s) in FINAL_STATUSES for s in statuses)


@dataclass(frozen=True, slots=True)
class Summary:
    """'2 of 3 delivered' and friends."""

    total: int
    by_status: dict[Status, int]

    @property
    def delivered(self) -> int:
        return self.by_status.get(Status.DELIVERED, 0)

    @property
    def text(self) -> str:
        return ngettext(
            "%(delivered)d of %(total)d package delivered",
            "%(delivered)d of %(total)d packages delivered",
            self.total,
        ) % {"delivered": self.delivered, "total": self.total}


def summarise(package_statuses: Iterable[int]) -> Summary:
    statuses = [Status(s) for s in package_statuses]
    return Summary(total=len(statuses), by_status=dict(Counter(statuses)))
