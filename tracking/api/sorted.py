"""The Sorted PRO-compatible tracking API under /tracking (design section 3): its wire shapes,
its error envelope and its views.

Reads go through the access door and the Timeline read model. A carrier's batch is checked
here in plain Python over the parsed JSON, every item before any is stored, and then handed to
services.record_events in one call, so a batch is stored all-or-nothing in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions, serializers, viewsets
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from tracking import access, services
from tracking import status as rules
from tracking.api.auth import (
    ApiKeyRateThrottle,
    HasCarrierKey,
    HasClientKey,
    SafeJSONParser,
    SubscriptionKeyAuthentication,
)
from tracking.models import (
    NAME_MAX,
    PACKAGE_REFERENCE,
    REFERENCE_MAX,
    TEXT_MAX,
    ApiKey,
    EventSource,
)
from tracking.timeline import EventRow, Timeline

logger = logging.getLogger(__name__)

API_VERSION = "1.1"
VERSION_HEADER = "electio-api-version"
# Every error answer carries its CorrelationId in this header as well as in the body, and the
# same id is logged, so a carrier's support request can be matched to our log line.
CORRELATION_HEADER = "X-Correlation-ID"
MAX_BATCH_EVENTS = 5_000
# Items cost work even when they carry no events, so they are capped too: a carrier with more
# parcels than this splits its feed, as it must for events anyway.
MAX_BATCH_ITEMS = 5_000
MAX_PROBLEMS = 100
# 5,000 events with every text field at its limit fit in about 8 MB; anything bigger is refused
# before it is read, since DRF's JSON parser would otherwise read any size into memory.
MAX_BODY_BYTES = 10 * 1024 * 1024
TAG = "Sorted PRO tracking (/tracking)"


# -- The error envelope -----------------------------------------------------------------------


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


def not_found(request) -> JsonResponse:
    """Unknown paths under /tracking (the site's 404 handler calls this)."""
    return error_response(404, "NotFound", "There is nothing at this address.")


def server_error(request) -> JsonResponse:
    response = error_response(500, "ServerError", "Something went wrong on our side.")
    logger.error(
        "Sorted API %s %s failed, correlation id %s",
        request.method,
        request.path,
        response[CORRELATION_HEADER],
    )
    return response


# Codes for the errors DRF raises itself (authentication, permissions, parsing, throttling).
DRF_ERROR_CODES = [
    (exceptions.NotAuthenticated, "Unauthorized"),
    (exceptions.AuthenticationFailed, "Unauthorized"),
    (exceptions.PermissionDenied, "Forbidden"),
    (exceptions.NotFound, "NotFound"),
    (exceptions.MethodNotAllowed, "MethodNotAllowed"),
    (exceptions.UnsupportedMediaType, "UnsupportedMediaType"),
    (exceptions.ParseError, "MalformedJson"),
    (exceptions.Throttled, "TooManyRequests"),
]


def handle_exception(exc: Exception, context: dict) -> Response | None:
    """DRF's exception handler for these views only: every 4xx in the Sorted envelope.

    The /v1 API has its own envelope, so this is set per view, not in settings.
    """
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a server error: the site's 500 handler answers in the envelope

    if isinstance(exc, ApiError):
        code, message, details = exc.code, exc.message, exc.details
    else:
        code = next((c for kind, c in DRF_ERROR_CODES if isinstance(exc, kind)), None)
        code = code or "".join(part.title() for part in str(exc.default_code).split("_"))
        message = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
        details = []
    if isinstance(exc, exceptions.MethodNotAllowed):
        message = f"{context['request'].method} is not allowed here."

    body = envelope(code, str(message), details)
    headers = {CORRELATION_HEADER: body["CorrelationId"]}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(math.ceil(exc.wait))
    request = context.get("request")
    if request is not None:
        logger.info(
            "Sorted API %s %s -> %s %s, correlation id %s",
            request.method,
            request.path,
            exc.status_code,
            code,
            body["CorrelationId"],
        )
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


# -- Reading: the published shapes -----------------------------------------------------------


def timestamp(value: dt.datetime) -> str:
    """ISO-8601 in UTC with an explicit +00:00 offset, microseconds kept when present."""
    return value.astimezone(dt.UTC).isoformat()


def event_json(event: EventRow) -> dict:
    # Description is required in Sorted's EventViewModel, so it stays a string ("" when empty);
    # the optional SignedBy and Location are null when there is nothing to say.
    return {
        "TimeStamp": timestamp(event.occurred_at),
        "Code": event.code,
        "Description": event.description,
        "SignedBy": event.signed_by or None,
        "Location": event.location or None,
    }


def consignment_json(timeline: Timeline) -> dict:
    """Get Tracking Events: per package, the legs that carry it, each with its events."""
    return {
        "ConsignmentReferenceForAllLegsAssignedByMpd": timeline.consignment.reference,
        "TrackedPackages": [
            {
                "PackageReferenceForAllLegsAssignedByMpd": tracked.package.reference,
                "Legs": [
                    {
                        "CarrierServiceName": package_leg.leg.service_name or None,
                        "Events": [event_json(event) for event in package_leg.events],
                    }
                    for package_leg in tracked.legs
                ],
            }
            for tracked in timeline.by_package
        ],
    }


def flattened_json(timeline: Timeline) -> dict:
    """Get Events Per Package: per package, every event of every leg, oldest first."""
    return {
        "ConsignmentReferenceForAllLegsAssignedByMpd": timeline.consignment.reference,
        "TrackedPackages": [
            {
                "PackageReferenceForAllLegsAssignedByMpd": tracked.package.reference,
                "Events": [
                    {**event_json(event), "CarrierServiceName": leg.service_name or None}
                    for leg, event in tracked.events
                ],
            }
            for tracked in timeline.by_package
        ],
    }


def render_json(data) -> bytes:
    return JSONRenderer().render(data)


def json_body(body: bytes) -> HttpResponse:
    """A body already rendered (and kept per timeline version): sent as it is."""
    return HttpResponse(body, content_type="application/json")


def consignment_not_found(reference: str) -> ApiError:
    # The same answer for "no such consignment" and "another brand's", as the access door rules.
    canonical = access.normalise_reference(reference)
    message = (
        f"Consignment {canonical} not found."
        if canonical
        else "Consignment not found: references look like EC-XXX-XXX-XXX."
    )
    return ApiError(404, "ConsignmentNotFound", message)


# -- Writing: a carrier's batch ----------------------------------------------------------------

UNPAIRED_SURROGATE = re.compile("[\ud800-\udfff]")
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
        self.earliest = services.EARLIEST_EVENT
        self.latest = now + services.FUTURE_TOLERANCE
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

    def text(self, item: dict, name: str, target: str, *, limit: int, required: bool):
        value = item.get(name)
        if value is None:
            if required:
                self.problem("Required", target, f"{name} is required.")
            return None
        if type(value) is not str:
            self.problem("InvalidType", target, f"{name} must be a string, not {json_type(value)}.")
            return None
        if len(value) > limit:
            self.problem("TooLong", target, f"{name} must be at most {limit} characters.")
            return None
        # PostgreSQL text cannot hold NUL, and an unpaired surrogate cannot be encoded as UTF-8:
        # either would fail the write (or this answer) with a server error.
        if "\x00" in value or (not value.isascii() and UNPAIRED_SURROGATE.search(value)):
            self.problem(
                "InvalidCharacter",
                target,
                f"{name} must not contain NUL characters or unpaired surrogates.",
            )
            return None
        return value

    def reference(self, item: dict, name: str, target: str, *, limit: int) -> str | None:
        value = self.text(item, name, target, limit=limit, required=True)
        if value is None:
            return None
        value = value.strip()
        if not value:
            self.problem("Required", target, f"{name} must not be blank.")
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
        if moment.tzinfo is None or moment.utcoffset() is None:
            self.problem(
                "MissingOffset",
                target,
                "TimeStamp must say its offset from UTC, e.g. +01:00 or Z: "
                "without one the moment is ambiguous.",
            )
            return None
        if moment < self.earliest or moment > self.latest:
            self.problem(
                "TimestampOutOfRange",
                target,
                "TimeStamp must be after 2000-01-01 and at most 24 hours ahead of our clock.",
            )
            return None
        return moment

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
        carrier_reference = self.reference(
            body, "CarrierReference", "CarrierReference", limit=NAME_MAX
        )
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
        number = self.reference(
            item,
            "ConsignmentTrackingReference",
            f"{target}.ConsignmentTrackingReference",
            limit=REFERENCE_MAX,
        )
        if number is not None:
            self.numbers.append((f"{target}.ConsignmentTrackingReference", number))
        for package_path, package_item in self.objects(
            item, "PackageTrackingEvents", f"{target}.PackageTrackingEvents"
        ):
            self.package_count += 1
            if self.package_count > MAX_BATCH_ITEMS:
                raise too_large("PackageTrackingEvents", MAX_BATCH_ITEMS)
            reference = self.reference(
                package_item,
                "PackageReference",
                f"{package_path}.PackageReference",
                limit=REFERENCE_MAX,
            )
            if reference is not None:
                reference = reference.upper()
                if not PACKAGE_REFERENCE.match(reference):
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
        description = self.text(
            item, "Description", f"{target}.Description", limit=TEXT_MAX, required=True
        )
        signed_by = self.text(
            item, "SignedBy", f"{target}.SignedBy", limit=NAME_MAX, required=False
        )
        location = self.text(item, "Location", f"{target}.Location", limit=NAME_MAX, required=False)
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
    for key, messages in error.message_dict.items():
        # Keys are an event's path (its field_prefix) plus services' name for the field; the
        # package and the leg are named on the items above the event.
        prefix, _dot, name = key.rpartition(".")
        if name == "package":
            prefix = prefix.rpartition(".TrackingEvents[")[0]
        elif name == "leg":
            prefix = prefix.rpartition(".PackageTrackingEvents[")[0]
        target = f"{prefix}.{SERVICE_FIELDS.get(name, name)}" if prefix else name
        problems.extend(Problem("ValidationFailed", target, message) for message in messages)
    return ApiError(400, "ValidationFailed", "The batch was refused; nothing was stored.", problems)


# -- HTTP plumbing -------------------------------------------------------------------------------


class AlwaysJson(DefaultContentNegotiation):
    """Answers are JSON whatever Accept says. Sorted also speaks XML; we don't, and answering
    JSON (Sorted's own default) serves clients that list XML first better than a 406 would."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class SortedViewSet(viewsets.ViewSet):
    """What every /tracking endpoint shares: keys, throttle, JSON, the envelope, the version."""

    authentication_classes = [SubscriptionKeyAuthentication]
    throttle_classes = [ApiKeyRateThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes = [SafeJSONParser]
    content_negotiation_class = AlwaysJson
    metadata_class = None

    def get_exception_handler(self):
        return handle_exception

    def initial(self, request, *args, **kwargs):
        # A method the resource does not have is a 405 whoever asks, before any key check.
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)
        version = request.headers.get(VERSION_HEADER)
        if version is not None and version != API_VERSION:
            raise ApiError(
                400,
                "UnsupportedApiVersion",
                f"This API speaks {VERSION_HEADER} {API_VERSION} (or no header at all).",
                [Problem("UnsupportedApiVersion", VERSION_HEADER, f"Use {API_VERSION}.")],
            )


# -- OpenAPI: the documented shapes (the views build the same shapes as plain dicts) ---------------


class SortedEventSerializer(serializers.Serializer):
    TimeStamp = serializers.DateTimeField(
        help_text="When it happened: ISO-8601 in UTC with offset +00:00."
    )
    Code = serializers.CharField(help_text="Normalised upper-snake code, e.g. DELIVERED.")
    Description = serializers.CharField(allow_blank=True, help_text="Empty string when none.")
    SignedBy = serializers.CharField(allow_null=True, help_text="Who signed; null when nobody.")
    Location = serializers.CharField(allow_null=True, help_text="Where; null when not known.")


class SortedLegSerializer(serializers.Serializer):
    CarrierServiceName = serializers.CharField(
        allow_null=True, help_text="The leg's carrier service, or its carrier when it has none."
    )
    Events = SortedEventSerializer(many=True, help_text="This package's events, oldest first.")


class SortedTrackedPackageSerializer(serializers.Serializer):
    PackageReferenceForAllLegsAssignedByMpd = serializers.CharField()
    Legs = SortedLegSerializer(many=True, help_text="The legs that carry the package, in order.")


class SortedTrackedConsignmentSerializer(serializers.Serializer):
    ConsignmentReferenceForAllLegsAssignedByMpd = serializers.CharField()
    TrackedPackages = SortedTrackedPackageSerializer(many=True)


class SortedFlattenedEventSerializer(SortedEventSerializer):
    CarrierServiceName = serializers.CharField(allow_null=True)


class SortedFlattenedPackageSerializer(serializers.Serializer):
    PackageReferenceForAllLegsAssignedByMpd = serializers.CharField()
    Events = SortedFlattenedEventSerializer(many=True, help_text="From every leg, oldest first.")


class SortedFlattenedConsignmentSerializer(serializers.Serializer):
    ConsignmentReferenceForAllLegsAssignedByMpd = serializers.CharField()
    TrackedPackages = SortedFlattenedPackageSerializer(many=True)


class SortedCarrierEventSerializer(serializers.Serializer):
    TimeStamp = serializers.DateTimeField(
        help_text="ISO-8601 with an offset (up to 7 fractional digits); not before 2000 and at "
        "most 24 hours ahead."
    )
    Code = serializers.CharField(
        min_length=1,
        max_length=rules.CODE_MAX_LENGTH,
        help_text="e.g. DELIVERED or 'Out for delivery' (normalised to OUT_FOR_DELIVERY). "
        "Unknown codes are stored and shown but change no status.",
    )
    Description = serializers.CharField(allow_blank=True, max_length=TEXT_MAX)
    SignedBy = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=NAME_MAX
    )
    Location = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=NAME_MAX
    )


class SortedPackageTrackingEventsSerializer(serializers.Serializer):
    PackageReference = serializers.CharField(
        min_length=1,
        max_length=REFERENCE_MAX,
        help_text="EP-XXX-XXX-XXX of a package the leg carries.",
    )
    TrackingEvents = SortedCarrierEventSerializer(many=True)


class SortedConsignmentTrackingEventsSerializer(serializers.Serializer):
    ConsignmentTrackingReference = serializers.CharField(
        min_length=1, max_length=REFERENCE_MAX, help_text="Your tracking number of the leg."
    )
    PackageTrackingEvents = SortedPackageTrackingEventsSerializer(many=True)


class SortedCarrierEventsSerializer(serializers.Serializer):
    CarrierReference = serializers.CharField(
        min_length=1, max_length=NAME_MAX, help_text="Your carrier code, e.g. CARRIER_X."
    )
    ConsignmentTrackingEvents = SortedConsignmentTrackingEventsSerializer(
        many=True, help_text=f"At most {MAX_BATCH_EVENTS} TrackingEvents in all."
    )


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


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(SortedApiErrorSerializer, description=description)


ERROR_RESPONSES = {
    400: _error(f"UnsupportedApiVersion: {VERSION_HEADER} is present and not {API_VERSION}."),
    401: _error("Unauthorized: no key, or not a valid one."),
    403: _error("Forbidden: the key's role may not use this endpoint."),
    405: _error("MethodNotAllowed."),
    429: _error("TooManyRequests: wait Retry-After seconds."),
}
ERROR_STATUSES = [400, 401, 403, 404, 405, 413, 415, 429]
HEADER_PARAMETERS = [
    OpenApiParameter(
        VERSION_HEADER,
        str,
        OpenApiParameter.HEADER,
        required=False,
        enum=[API_VERSION],
        description=f"Optional; when sent it must be {API_VERSION}.",
    ),
    OpenApiParameter(
        CORRELATION_HEADER,
        OpenApiTypes.UUID,
        OpenApiParameter.HEADER,
        required=True,
        response=ERROR_STATUSES,
        description="The error's CorrelationId.",
    ),
    OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        required=True,
        response=[429],
        description="Seconds until the key's allowance is renewed.",
    ),
    OpenApiParameter(
        "WWW-Authenticate",
        str,
        OpenApiParameter.HEADER,
        required=True,
        response=[401],
    ),
]
REFERENCE_PARAMETER = OpenApiParameter(
    "consignmentReference",
    str,
    OpenApiParameter.PATH,
    description="The consignment's reference, EC-XXX-XXX-XXX (any case).",
)


# -- Views -------------------------------------------------------------------------------------


class ConsignmentTrackingViewSet(SortedViewSet):
    """The two reads, for client keys: their brand's consignments only."""

    permission_classes = [HasClientKey]
    http_method_names = ["get", "head"]

    @extend_schema(
        operation_id="GetTrackingEvents",
        summary="Tracking events per package and leg",
        description="Every package of the consignment, in order, with the legs that carry it "
        "(in leg order) and each leg's events for that package (its own and the leg-wide ones), "
        "oldest first.",
        tags=[TAG],
        parameters=[REFERENCE_PARAMETER, *HEADER_PARAMETERS],
        responses={
            200: OpenApiResponse(
                SortedTrackedConsignmentSerializer, description="The consignment's tracking."
            ),
            **ERROR_RESPONSES,
            404: _error("ConsignmentNotFound: no such consignment for this key's brand."),
        },
    )
    def retrieve(self, request, consignmentReference: str):
        timeline = self.timeline(consignmentReference)
        return json_body(timeline.cached("sorted", lambda: render_json(consignment_json(timeline))))

    @extend_schema(
        operation_id="GetEventsPerPackage",
        summary="Tracking events per package, legs flattened",
        description="Every package of the consignment with the events of all its legs, oldest "
        "first, each naming the carrier service of its leg.",
        tags=[TAG],
        parameters=[REFERENCE_PARAMETER, *HEADER_PARAMETERS],
        responses={
            200: OpenApiResponse(
                SortedFlattenedConsignmentSerializer, description="The consignment's tracking."
            ),
            **ERROR_RESPONSES,
            404: _error("ConsignmentNotFound: no such consignment for this key's brand."),
        },
    )
    def flattened(self, request, consignmentReference: str):
        timeline = self.timeline(consignmentReference)
        return json_body(
            timeline.cached("sorted-flattened", lambda: render_json(flattened_json(timeline)))
        )

    def timeline(self, reference: str) -> Timeline:
        try:
            return access.timeline_for_key(self.request.auth, reference=reference)
        except access.NotFound:
            raise consignment_not_found(reference) from None


POST_EVENTS_DESCRIPTION = (
    "For carrier keys. The whole batch is checked before anything is stored: any problem "
    "answers 400 with one Details entry per problem (the first 100), each naming its field by "
    "JSON path, and stores nothing. A valid batch is stored in one transaction; events already "
    "stored (same leg, package, Code, TimeStamp and Description) are skipped, so retries are "
    "safe. Success is 200 with an empty body."
)
POST_EVENTS_RESPONSES = {
    200: OpenApiResponse(description="Stored (or already stored). No body."),
    **ERROR_RESPONSES,
    400: _error(
        "ValidationFailed (Details name each bad field), MalformedJson, BatchTooLarge or "
        "UnsupportedApiVersion."
    ),
    403: _error(
        "Forbidden (not a carrier key) or CarrierMismatch (CarrierReference is not the key's)."
    ),
    413: _error(f"PayloadTooLarge: the body is over {MAX_BODY_BYTES // (1024 * 1024)} MiB."),
    415: _error("UnsupportedMediaType: send Content-Type: application/json."),
}
POST_EVENTS_EXAMPLE = OpenApiExample(
    "A delivery scan",
    request_only=True,
    value={
        "CarrierReference": "CARRIER_X",
        "ConsignmentTrackingEvents": [
            {
                "ConsignmentTrackingReference": "TRK00009823",
                "PackageTrackingEvents": [
                    {
                        "PackageReference": "EP-000-034-4DG",
                        "TrackingEvents": [
                            {
                                "TimeStamp": "2020-02-11T07:08:11.786733+00:00",
                                "Code": "DELIVERED",
                                "Description": "Delivered to customer",
                                "SignedBy": "C. Smith",
                                "Location": "Manchester",
                            }
                        ],
                    }
                ],
            }
        ],
    },
)


class CarrierEventsViewSet(SortedViewSet):
    """A carrier pushes its scans in batches."""

    permission_classes = [HasCarrierKey]
    http_method_names = ["post"]

    @extend_schema(
        operation_id="PostTrackingEvents",
        summary="Post a carrier's tracking events",
        description=POST_EVENTS_DESCRIPTION,
        tags=[TAG],
        parameters=HEADER_PARAMETERS,
        request=SortedCarrierEventsSerializer,
        responses=POST_EVENTS_RESPONSES,
        examples=[POST_EVENTS_EXAMPLE],
    )
    def create(self, request):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) == 0:
            raise ApiError(400, "MalformedJson", "The body is empty: send the batch as JSON.")
        if int(length) > MAX_BODY_BYTES:
            raise ApiError(
                413,
                "PayloadTooLarge",
                f"The body is over {MAX_BODY_BYTES // (1024 * 1024)} MiB: split the batch.",
            )
        specs = BatchReader(request.auth, now=timezone.now()).read(self.parsed_body())
        try:
            services.record_events(events=specs, source=EventSource.SORTED)
        except DjangoValidationError as error:
            raise stored_failure(error) from None
        # Sorted documents "no response body", so there is no Content-Type either.
        response = HttpResponse(status=200)
        del response["Content-Type"]
        return response

    def parsed_body(self):
        """The JSON body, read from the stream under this endpoint's own size limit.

        request.data would go through HttpRequest.body, which refuses anything over
        DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB, right for forms) with an HTML 400, while a valid
        batch may be four times that. Content-Length was checked against MAX_BODY_BYTES, and
        the stream stops there."""
        request = self.request
        parser = request.negotiator.select_parser(request, request.parsers)
        if parser is None:
            raise exceptions.UnsupportedMediaType(request.content_type)
        return parser.parse(request.stream, parser.media_type, self.get_parser_context(request))


class CarrierTrackingEventsViewSet(CarrierEventsViewSet):
    """The same endpoint at the path Sorted.PRO.SDK's TrackingService posts to."""

    @extend_schema(
        operation_id="PostTrackingEventsSdkPath",
        summary="Post a carrier's tracking events (Sorted.PRO.SDK's path)",
        description="The same as POST /tracking/carrierevents, at the path Sorted's C# SDK "
        "(Sorted.PRO.SDK TrackingService) uses, so carriers on that SDK work unchanged.",
        tags=[TAG],
        parameters=HEADER_PARAMETERS,
        request=SortedCarrierEventsSerializer,
        responses=POST_EVENTS_RESPONSES,
        examples=[POST_EVENTS_EXAMPLE],
    )
    def create(self, request):
        return super().create(request)


urlpatterns = [
    # The fixed paths come before {consignmentReference}, which would otherwise swallow them.
    path(
        "carrierevents",
        CarrierEventsViewSet.as_view({"post": "create"}),
        name="sorted-carrier-events",
    ),
    path(
        "carrierTrackingEvents",
        CarrierTrackingEventsViewSet.as_view({"post": "create"}),
        name="sorted-carrier-tracking-events",
    ),
    path(
        "flattened/<str:consignmentReference>",
        ConsignmentTrackingViewSet.as_view({"get": "flattened"}),
        name="sorted-flattened",
    ),
    path(
        "<str:consignmentReference>",
        ConsignmentTrackingViewSet.as_view({"get": "retrieve"}),
        name="sorted-tracking",
    ),
]
