"""The Sorted API's published shapes: its error envelope, and its answers as tables.

Each answer is one table of output keys: a key's name, how its value is read from the
Timeline's rows, and its documentation. The dict builders that the views render and the
drf-spectacular components that the schema shows are both made from the tables, so the two
cannot drift apart (they were once written twice and kept in step by a test).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.http import JsonResponse
from rest_framework import exceptions, serializers

from tracking.timeline import EventRow, Timeline

API_VERSION = "1.1"
VERSION_HEADER = "electio-api-version"
# Every error answer carries its CorrelationId in this header as well as in the body, and the
# same id is logged, so a carrier's support request can be matched to our log line.
CORRELATION_HEADER = "X-Correlation-ID"


# -- The error envelope -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One entry of an error's Details: what is wrong (Code) and where (Target, a JSON path)."""

    code: str
    target: str
    message: str

    def as_json(self) -> dict:
        return {"Code": self.code, "Target": self.target, "Message": self.message}


class ApiError(exceptions.APIException):
    """An answer in Sorted's error envelope with a stable PascalCase Code."""

    def __init__(self, status_code: int, code: str, message: str, details=()):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = list(details)


def envelope(code: str, message: str, details=()) -> dict:
    return {
        "Code": code,
        "Message": message,
        "CorrelationId": str(uuid.uuid4()),
        "Details": [d.as_json() if isinstance(d, Problem) else d for d in details],
    }


def error_response(status: int, code: str, message: str, details=()) -> JsonResponse:
    body = envelope(code, message, details)
    response = JsonResponse(body, status=status)
    response[CORRELATION_HEADER] = body["CorrelationId"]
    return response


class SortedApiErrorMessageSerializer(serializers.Serializer):
    Code = serializers.CharField(help_text="e.g. Required, InvalidType, PackageNotOnLeg.")
    Target = serializers.CharField(
        allow_blank=True, help_text="JSON path of the field, '' for the whole body."
    )
    Message = serializers.CharField()


class SortedApiErrorSerializer(serializers.Serializer):
    Code = serializers.CharField(help_text="e.g. ValidationFailed, ConsignmentNotFound.")
    Message = serializers.CharField()
    CorrelationId = serializers.UUIDField(
        help_text=f"Also sent as the {CORRELATION_HEADER} header."
    )
    Details = SortedApiErrorMessageSerializer(many=True)


# -- The answers, as tables -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Key:
    """One key of an answer: its name, its value read from a row, and its documentation."""

    name: str
    value: Callable
    doc: serializers.Field


def build(keys: Iterable[Key], row) -> dict:
    return {key.name: key.value(row) for key in keys}


def component(name: str, keys: Iterable[Key]) -> type[serializers.Serializer]:
    """The drf-spectacular component of a table (named `name` less "Serializer")."""
    return type(name, (serializers.Serializer,), {key.name: key.doc for key in keys})


def timestamp(value: dt.datetime) -> str:
    """ISO-8601 in UTC with an explicit +00:00 offset, microseconds kept when present."""
    return value.astimezone(dt.UTC).isoformat()


# Description is required in Sorted's EventViewModel, so it stays a string ("" when empty);
# the optional SignedBy and Location are null when there is nothing to say.
EVENT = (
    Key(
        "TimeStamp",
        lambda event: timestamp(event.occurred_at),
        serializers.DateTimeField(
            help_text="When it happened: ISO-8601 in UTC with offset +00:00."
        ),
    ),
    Key(
        "Code",
        lambda event: event.code,
        serializers.CharField(help_text="Normalised upper-snake code, e.g. DELIVERED."),
    ),
    Key(
        "Description",
        lambda event: event.description,
        serializers.CharField(allow_blank=True, help_text="Empty string when none."),
    ),
    Key(
        "SignedBy",
        lambda event: event.signed_by or None,
        serializers.CharField(allow_null=True, help_text="Who signed; null when nobody."),
    ),
    Key(
        "Location",
        lambda event: event.location or None,
        serializers.CharField(allow_null=True, help_text="Where; null when not known."),
    ),
)
SortedEventSerializer = component("SortedEventSerializer", EVENT)


def event_json(event: EventRow) -> dict:
    return build(EVENT, event)


# A leg as one package sees it (timeline.PackageLeg).
LEG = (
    Key(
        "CarrierServiceName",
        lambda package_leg: package_leg.leg.service_name or None,
        serializers.CharField(
            allow_null=True, help_text="The leg's carrier service, or its carrier when it has none."
        ),
    ),
    Key(
        "Events",
        lambda package_leg: [event_json(event) for event in package_leg.events],
        SortedEventSerializer(many=True, help_text="This package's events, oldest first."),
    ),
)
SortedLegSerializer = component("SortedLegSerializer", LEG)

# A package with the legs that carry it (timeline.PackageTimeline).
TRACKED_PACKAGE = (
    Key(
        "PackageReferenceForAllLegsAssignedByMpd",
        lambda tracked: tracked.package.reference,
        serializers.CharField(),
    ),
    Key(
        "Legs",
        lambda tracked: [build(LEG, package_leg) for package_leg in tracked.legs],
        SortedLegSerializer(many=True, help_text="The legs that carry the package, in order."),
    ),
)
SortedTrackedPackageSerializer = component("SortedTrackedPackageSerializer", TRACKED_PACKAGE)

# Get Tracking Events: per package, the legs that carry it, each with its events.
TRACKED_CONSIGNMENT = (
    Key(
        "ConsignmentReferenceForAllLegsAssignedByMpd",
        lambda timeline: timeline.consignment.reference,
        serializers.CharField(),
    ),
    Key(
        "TrackedPackages",
        lambda timeline: [build(TRACKED_PACKAGE, tracked) for tracked in timeline.by_package],
        SortedTrackedPackageSerializer(many=True),
    ),
)
SortedTrackedConsignmentSerializer = component(
    "SortedTrackedConsignmentSerializer", TRACKED_CONSIGNMENT
)

# An event of the flattened answer, a (leg, event) pair: the event with its leg's service.
FLATTENED_EVENT = (
    *(Key(key.name, lambda pair, key=key: key.value(pair[1]), key.doc) for key in EVENT),
    Key(
        "CarrierServiceName",
        lambda pair: pair[0].service_name or None,
        serializers.CharField(allow_null=True),
    ),
)
SortedFlattenedEventSerializer = component("SortedFlattenedEventSerializer", FLATTENED_EVENT)

FLATTENED_PACKAGE = (
    TRACKED_PACKAGE[0],
    Key(
        "Events",
        lambda tracked: [build(FLATTENED_EVENT, pair) for pair in tracked.events],
        SortedFlattenedEventSerializer(many=True, help_text="From every leg, oldest first."),
    ),
)
SortedFlattenedPackageSerializer = component("SortedFlattenedPackageSerializer", FLATTENED_PACKAGE)

# Get Events Per Package: per package, every event of every leg, oldest first.
FLATTENED_CONSIGNMENT = (
    TRACKED_CONSIGNMENT[0],
    Key(
        "TrackedPackages",
        lambda timeline: [build(FLATTENED_PACKAGE, tracked) for tracked in timeline.by_package],
        SortedFlattenedPackageSerializer(many=True),
    ),
)
SortedFlattenedConsignmentSerializer = component(
    "SortedFlattenedConsignmentSerializer", FLATTENED_CONSIGNMENT
)


def consignment_json(timeline: Timeline) -> dict:
    return build(TRACKED_CONSIGNMENT, timeline)


def flattened_json(timeline: Timeline) -> dict:
    return build(FLATTENED_CONSIGNMENT, timeline)
