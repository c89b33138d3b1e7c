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


# -- Deriving a status from events ----------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class StatusKey:
    """Where an event stands in time: the newest key with a non-zero status sets the status.

    Events at the same instant are settled by a fixed order, never by when they were received
    (design section 1), so any arrival order, in one write or several, gives the same result: a
    problem status over any stage, then the later stage, then the status itself. received_at is
    kept for display and storage but takes no part in the comparison.
    """

    occurred_at: datetime
    received_at: datetime = field(compare=False)
    status: int = field(compare=False)
    tie: tuple[int, int, int] = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "tie", TIE_RANKS[self.status])


def newest(keys: Iterable[StatusKey | None]) -> StatusKey | None:
    """The key that sets the status, ignoring events with status 0 (Unknown)."""
    best = None
    for key in keys:
        if key is None or key.status == Status.UNKNOWN:
            continue
        if best is None or key > best:
            best = key
    return best


def derived_status(keys: Iterable[StatusKey | None]) -> Status:
    """A leg's or package's status: that of its newest non-zero event, or Unknown."""
    key = newest(keys)
    return Status(key.status) if key else Status.UNKNOWN


# -- Progress stages ----------------------------------------------------------------------------


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

STATUS_STAGE: dict[Status, Stage] = {
    Status.UNKNOWN: Stage.LABEL_CREATED,
    Status.PRINTED: Stage.LABEL_CREATED,
    Status.AWAITING_COLLECTION: Stage.LABEL_CREATED,
    Status.MANIFESTED: Stage.LABEL_CREATED,
    Status.DISPATCHED: Stage.DISPATCHED,
    Status.IN_TRANSIT: Stage.IN_TRANSIT,
    Status.OUT_FOR_DELIVERY: Stage.OUT_FOR_DELIVERY,
    Status.PICKUP_IN_STORE: Stage.OUT_FOR_DELIVERY,
    Status.ATTEMPTED_DELIVERY: Stage.OUT_FOR_DELIVERY,
    Status.DELIVERED: Stage.DELIVERED,
}

# Statuses shown as a warning at the stage reached rather than as a stage of their own.
WARNING_STATUSES = frozenset({Status.ATTEMPTED_DELIVERY, Status.EXCEPTION, Status.CANCELLED})


def _tie_rank(status: Status) -> tuple[int, int, int]:
    stage = STATUS_STAGE.get(status)
    return (int(status in WARNING_STATUSES), -1 if stage is None else int(stage), int(status))


# Where each status stands among events at the same instant (StatusKey): the highest wins.
TIE_RANKS = {status: _tie_rank(status) for status in Status}


# A consignment whose packages all reached one of these will not change again by itself.
FINAL_STATUSES = frozenset({Status.DELIVERED, Status.CANCELLED})


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a package (or a whole consignment) stands on the five-step stepper."""

    stage: Stage
    status: Status
    warning: Status | None

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


def progress(keys: Iterable[StatusKey | None]) -> Progress:
    """Progress from a package's events: the stage of the newest event that has a stage, plus a
    warning when the current status is an exception, a failed attempt or a cancellation."""
    keys = [key for key in keys if key is not None]
    status = derived_status(keys)
    staged = newest(key for key in keys if Status(key.status) in STATUS_STAGE)
    stage = STATUS_STAGE[Status(staged.status)] if staged else Stage.LABEL_CREATED
    warning = status if status in WARNING_STATUSES else None
    return Progress(stage=stage, status=status, warning=warning)


def combined_progress(progresses: Iterable[Progress], status: int) -> Progress:
    """A consignment's stepper: the stage of its least advanced live package, with the
    consignment's status, warned when the roll-up status is itself a warning."""
    progresses = list(progresses)
    live = [p for p in progresses if p.status != Status.CANCELLED] or progresses
    stage = min((p.stage for p in live), default=Stage.LABEL_CREATED)
    status = Status(status)
    return Progress(
        stage=stage, status=status, warning=status if status in WARNING_STATUSES else None
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
    return min(live, key=lambda s: (STATUS_STAGE[s], s != Status.UNKNOWN, s))


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
