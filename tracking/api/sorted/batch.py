"""A carrier's batch, read: checked in one pass over the parsed JSON, every item before any is
stored, and turned into services.EventSpecs (design section 3).

The value rules are tracking.fields'; this words each problem as Sorted's Details entries,
each naming its field by JSON path. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError as DjangoValidationError

from tracking import access, services
from tracking import fields as value_rules
from tracking import status as rules
from tracking.api import wire
from tracking.api.sorted.shapes import ApiError, Problem
from tracking.fields import NAME_MAX, REFERENCE_MAX, TEXT_MAX
from tracking.models import ApiKey

MAX_BATCH_EVENTS = 5_000
# Items cost work even when they carry no events, so they are capped too: a carrier with more
# parcels than this splits its feed, as it must for events anyway.
MAX_BATCH_ITEMS = 5_000
MAX_PROBLEMS = 100
# 5,000 events with every text field at its limit fit in about 8 MB; anything bigger is refused
# before it is read, since DRF's JSON parser would otherwise read any size into memory.
MAX_BODY_BYTES = 10 * 1024 * 1024


JSON_TYPE_NAMES = {
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


def json_type(value) -> str:
    return JSON_TYPE_NAMES.get(type(value), type(value).__name__)


@dataclass(frozen=True, slots=True)
class TextKey:
    """A text key of a batch item, as the reader checks it (schema.py documents it from this)."""

    name: str
    limit: int
    required: bool
    help: str | None = None


# References: required and not blank.
CARRIER_REFERENCE = TextKey(
    "CarrierReference", NAME_MAX, True, "Your carrier code, e.g. CARRIER_X."
)
TRACKING_REFERENCE = TextKey(
    "ConsignmentTrackingReference", REFERENCE_MAX, True, "Your tracking number of the leg."
)
PACKAGE_REFERENCE = TextKey(
    "PackageReference", REFERENCE_MAX, True, "EP-XXX-XXX-XXX of a package the leg carries."
)
# An event's texts besides its TimeStamp and Code.
DESCRIPTION = TextKey("Description", TEXT_MAX, True)
SIGNED_BY = TextKey("SignedBy", NAME_MAX, False)
LOCATION = TextKey("Location", NAME_MAX, False)
EVENT_TEXTS = (DESCRIPTION, SIGNED_BY, LOCATION)

# The batch's properties, as wire.read_json matches them (in any case; others are ignored).
EVENT_SHAPE = wire.Shape(dict.fromkeys(["TimeStamp", "Code", *(key.name for key in EVENT_TEXTS)]))
PACKAGE_SHAPE = wire.Shape({PACKAGE_REFERENCE.name: None, "TrackingEvents": EVENT_SHAPE})
CONSIGNMENT_SHAPE = wire.Shape(
    {TRACKING_REFERENCE.name: None, "PackageTrackingEvents": PACKAGE_SHAPE}
)
BATCH_SHAPE = wire.Shape(
    {CARRIER_REFERENCE.name: None, "ConsignmentTrackingEvents": CONSIGNMENT_SHAPE}
)


@dataclass(slots=True)
class PendingEvent:
    path: str
    occurred_at: dt.datetime
    code: str
    description: str
    signed_by: str
    location: str


@dataclass(slots=True)
class PendingPackage:
    """One PackageTrackingEvents item whose fields are well-formed, awaiting its references."""

    path: str
    tracking_number: str | None
    reference: str | None
    events: list[PendingEvent] = field(default_factory=list)


OUT_OF_RANGE = (
    f"TimeStamp must be after {value_rules.EARLIEST_EVENT:%Y-%m-%d} and at most "
    f"{value_rules.FUTURE_HOURS} hours ahead of our clock."
)


class BatchReader:
    """Checks a carrier's batch in one pass over the parsed JSON and turns it into EventSpecs.

    Every problem is collected with the JSON path of its field (the first MAX_PROBLEMS are
    reported), then all tracking numbers and package references are resolved at once: one
    query for the carrier's legs, one for the packages and one for which packages each leg
    carries. Nothing here writes.
    """

    def __init__(self, key: ApiKey, *, now: dt.datetime):
        self.key = key
        self.now = now
        self.problems: list[Problem] = []
        self.problem_count = 0
        self.event_count = 0
        self.package_count = 0
        self.numbers: list[tuple[str, str]] = []  # (path, tracking number)
        self.packages: list[PendingPackage] = []
        self.codes: dict[str, str] = {}  # raw code -> normalised: codes repeat across a batch
        self.specs: list[services.EventSpec] = []

    def problem(self, code: str, target: str, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(code, target, message))

    # Field readers: each returns the value, or None after recording why it is unusable.

    def text(self, item: dict, key: TextKey, target: str):
        name, limit = key.name, key.limit
        value = item.get(name)
        if value is None:
            if key.required:
                self.problem("Required", target, f"{name} is required.")
            return None
        if type(value) is not str:
            self.problem("InvalidType", target, f"{name} must be a string, not {json_type(value)}.")
            return None
        problem = value_rules.check_text(value, limit)
        if problem is None:
            return value
        if problem.code == value_rules.TOO_LONG:
            self.problem("TooLong", target, f"{name} must be at most {limit} characters.")
        else:
            # PostgreSQL text cannot hold NUL, and an unpaired surrogate cannot be encoded as
            # UTF-8: either would fail the write (or this answer) with a server error.
            self.problem(
                "InvalidCharacter",
                target,
                f"{name} must not contain NUL characters or unpaired surrogates.",
            )
        return None

    def reference(self, item: dict, key: TextKey, target: str) -> str | None:
        value = self.text(item, key, target)
        if value is None:
            return None
        value = value.strip()
        if not value:
            self.problem("Required", target, f"{key.name} must not be blank.")
            return None
        return value

    def objects(self, item: dict, name: str, target: str) -> list[tuple[str, dict]]:
        value = item.get(name)
        if value is None:
            self.problem("Required", target, f"{name} is required (a list, possibly empty).")
            return []
        if type(value) is not list:
            self.problem("InvalidType", target, f"{name} must be a list, not {json_type(value)}.")
            return []
        found = []
        for index, entry in enumerate(value):
            if type(entry) is dict:
                found.append((f"{target}[{index}]", entry))
            else:
                self.problem(
                    "InvalidType",
                    f"{target}[{index}]",
                    f"Each item of {name} must be an object, not {json_type(entry)}.",
                )
        return found

    def occurred_at(self, item: dict, target: str) -> dt.datetime | None:
        value = item.get("TimeStamp")
        if value is None:
            self.problem("Required", target, "TimeStamp is required.")
            return None
        if type(value) is not str:
            self.problem(
                "InvalidType", target, f"TimeStamp must be a string, not {json_type(value)}."
            )
            return None
        try:
            # Python 3.11 reads 'Z', any offset and .NET's seven fractional digits (the
            # seventh, a tenth of a microsecond, is dropped: we store microseconds).
            moment = dt.datetime.fromisoformat(value) if len(value) <= 40 else None
        except ValueError:
            moment = None
        if moment is None:
            self.problem(
                "InvalidTimestamp",
                target,
                "TimeStamp must be an ISO-8601 date and time with an offset, "
                "e.g. 2020-02-11T07:08:11.786733+00:00.",
            )
            return None
        problem = value_rules.check_event_time(moment, self.now)
        if problem is None:
            return moment
        if problem.code == value_rules.NO_OFFSET:
            self.problem(
                "MissingOffset",
                target,
                "TimeStamp must say its offset from UTC, e.g. +01:00 or Z: "
                "without one the moment is ambiguous.",
            )
        else:
            self.problem("TimestampOutOfRange", target, OUT_OF_RANGE)
        return None

    def code(self, item: dict, target: str) -> str | None:
        raw = item.get("Code")
        if raw is None:
            self.problem("Required", target, "Code is required.")
            return None
        if type(raw) is not str:
            self.problem("InvalidType", target, f"Code must be a string, not {json_type(raw)}.")
            return None
        code = self.codes.get(raw)
        if code is None:
            if not raw.strip():
                self.problem("Required", target, "Code must not be blank.")
                return None
            try:
                code = self.codes[raw] = rules.normalise_code(raw)
            except ValueError as error:
                self.problem("InvalidCode", target, f"Code {error}.")
                return None
        return code

    # The walk over the document.

    def read(self, body) -> list[services.EventSpec]:
        """The batch as EventSpecs; raises ApiError (400 or 403) when anything is wrong."""
        if type(body) is not dict:
            self.problem(
                "InvalidType",
                "",
                f"The body must be a JSON object with CarrierReference and "
                f"ConsignmentTrackingEvents, not {json_type(body)}.",
            )
            raise self.failure()
        carrier_reference = self.reference(body, CARRIER_REFERENCE, "CarrierReference")
        if carrier_reference is not None and (
            carrier_reference.casefold() != self.key.carrier.code.casefold()
        ):
            raise ApiError(
                403,
                "CarrierMismatch",
                "CarrierReference must be the code of the carrier this key was issued for.",
                [Problem("CarrierMismatch", "CarrierReference", "Not this key's carrier.")],
            )
        items = body.get("ConsignmentTrackingEvents")
        if type(items) is list and len(items) > MAX_BATCH_ITEMS:
            raise too_large("ConsignmentTrackingEvents", MAX_BATCH_ITEMS)
        for consignment_path, consignment_item in self.objects(
            body, "ConsignmentTrackingEvents", "ConsignmentTrackingEvents"
        ):
            self.read_consignment(consignment_path, consignment_item)
        self.resolve()
        if self.problem_count:
            raise self.failure()
        return self.specs

    def read_consignment(self, target: str, item: dict) -> None:
        number = self.reference(item, TRACKING_REFERENCE, f"{target}.ConsignmentTrackingReference")
        if number is not None:
            self.numbers.append((f"{target}.ConsignmentTrackingReference", number))
        for package_path, package_item in self.objects(
            item, "PackageTrackingEvents", f"{target}.PackageTrackingEvents"
        ):
            self.package_count += 1
            if self.package_count > MAX_BATCH_ITEMS:
                raise too_large("PackageTrackingEvents", MAX_BATCH_ITEMS)
            reference = self.reference(
                package_item, PACKAGE_REFERENCE, f"{package_path}.PackageReference"
            )
            if reference is not None:
                reference = reference.upper()
                if value_rules.check_reference(reference, "EP") is not None:
                    self.problem(
                        "InvalidPackageReference",
                        f"{package_path}.PackageReference",
                        "PackageReference must be a package reference like EP-XXX-XXX-XXX.",
                    )
                    reference = None
            package = PendingPackage(package_path, number, reference)
            self.packages.append(package)
            for event_path, event_item in self.objects(
                package_item, "TrackingEvents", f"{package_path}.TrackingEvents"
            ):
                self.event_count += 1
                if self.event_count > MAX_BATCH_EVENTS:
                    raise too_large("TrackingEvents", MAX_BATCH_EVENTS)
                self.read_event(package, event_path, event_item)

    def read_event(self, package: PendingPackage, target: str, item: dict) -> None:
        occurred_at = self.occurred_at(item, f"{target}.TimeStamp")
        code = self.code(item, f"{target}.Code")
        description = self.text(item, DESCRIPTION, f"{target}.Description")
        signed_by = self.text(item, SIGNED_BY, f"{target}.SignedBy")
        location = self.text(item, LOCATION, f"{target}.Location")
        # A bad optional field was recorded as a problem, which fails the batch anyway.
        if occurred_at is None or code is None or description is None:
            return
        package.events.append(
            PendingEvent(target, occurred_at, code, description, signed_by or "", location or "")
        )

    def resolve(self) -> None:
        """Match tracking numbers to the carrier's legs and references to packages on them."""
        legs = access.legs_for_carrier(self.key, {number for _path, number in self.numbers})
        found = access.packages_by_reference({p.reference for p in self.packages if p.reference})

        for target, number in self.numbers:
            if number not in legs:
                self.problem(
                    "UnknownTrackingReference",
                    target,
                    f"{number} is not the tracking number of a leg of your carrier.",
                )
        for pending in self.packages:
            candidates = legs.get(pending.tracking_number)
            if not candidates or pending.reference is None:
                continue
            package = found.get(pending.reference)
            leg = access.leg_carrying(candidates, package)
            if leg is None:
                # Unknown and someone else's package get the same answer: no carrier learns
                # which references exist elsewhere.
                self.problem(
                    "PackageNotOnLeg",
                    f"{pending.path}.PackageReference",
                    f"{pending.reference} is not a package on the leg {pending.tracking_number}.",
                )
                continue
            self.specs.extend(
                services.EventSpec(
                    leg=leg,
                    occurred_at=event.occurred_at,
                    code=event.code,
                    description=event.description,
                    location=event.location,
                    signed_by=event.signed_by,
                    package=package,
                    field_prefix=f"{event.path}.",
                )
                for event in pending.events
            )

    def failure(self) -> ApiError:
        more = self.problem_count - len(self.problems)
        message = (
            f"The batch has {self.problem_count} problem{'s' if self.problem_count != 1 else ''}"
            f"{f' (the first {len(self.problems)} are listed)' if more else ''}; "
            "nothing was stored."
        )
        return ApiError(400, "ValidationFailed", message, self.problems)


def too_large(items: str, limit: int) -> ApiError:
    return ApiError(
        400,
        "BatchTooLarge",
        f"A batch may hold at most {limit} {items} in all; split it up.",
        [Problem("BatchTooLarge", "ConsignmentTrackingEvents", f"More than {limit} {items}.")],
    )


# What services calls a field, in the batch's words.
SERVICE_FIELDS = {
    "occurred_at": "TimeStamp",
    "code": "Code",
    "status": "Code",
    "description": "Description",
    "location": "Location",
    "signed_by": "SignedBy",
    "package": "PackageReference",
    "leg": "ConsignmentTrackingReference",
}


def stored_failure(error: DjangoValidationError) -> ApiError:
    """A refusal by services as a 400: only when a leg changed between our check and the write
    (an admin took a package off it, say), since the check above is at least as strict."""
    problems = []
    # Keys are an event's path (its field_prefix) plus services' name for the field; the
    # package and the leg are named on the items above the event.
    for prefix, name, message in wire.field_errors(error, SERVICE_FIELDS, paths=True):
        if name == SERVICE_FIELDS["package"]:
            prefix = prefix.rpartition(".TrackingEvents[")[0]
        elif name == SERVICE_FIELDS["leg"]:
            prefix = prefix.rpartition(".PackageTrackingEvents[")[0]
        target = f"{prefix}.{name}" if prefix else name
        problems.append(Problem("ValidationFailed", target, message))
    return ApiError(400, "ValidationFailed", "The batch was refused; nothing was stored.", problems)
