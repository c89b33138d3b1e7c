"""The Consignly-compatible tracking API under /v1: its wire fields, error envelope and views.

Shapes follow specs/consignly-tracking.txt; reads go through access.py and the Timeline, writes
through services.py.
"""

from __future__ import annotations

import datetime as dt
import http
import math
import re
import uuid
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator, validate_email
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.filters import BaseFilterBackend
from rest_framework.pagination import BasePagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from tracking import access, ratelimit, services
from tracking import status as rules
from tracking.api.auth import (
    ApiKeyRateThrottle,
    BearerKeyAuthentication,
    HasClientKey,
    SafeJSONParser,
)
from tracking.models import (
    NAME_MAX,
    REFERENCE_MAX,
    TEXT_MAX,
    URL_MAX,
    Consignment,
    EventSource,
    TrackingRecord,
)
from tracking.services import PackageSpec

TAG = "Consignly tracking (/v1)"
SOURCE = EventSource.CONSIGNLY
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 25, 500
PAGE_INDEX_MAX = 2**31 - 1  # Consignly documents PageIndex as int32
SEARCH_MAX = 200
PACKAGES_MAX = 500
SEQUENCE_MAX = 10_000  # services._check_sequence
STATUS_HELP = ", ".join(f"{int(s)} {name}" for s, name in rules.STATUS_NAMES.items())

# What a client may send back unchanged after reading a resource: ignored, never an error.
LEG_READ_ONLY = (
    "id",
    "integrationName",
    "createdUtc",
    "modifiedUtc",
    "lastUpdatedDate",
    "trackingEvents",
)

# services.py names fields as the models do; errors must name them as the wire does.
WIRE_NAMES = {
    "carrier_name": "carrierName",
    "tracking_number": "trackingNumber",
    "tracking_url": "trackingUrl",
    "integration_name": "integrationName",
    "description": "details",
    "signed_by": "signedBy",
    "occurred_at": "eventDateTime",
    "package": "packageReference",
    "leg": "consignmentTrackingId",
    "customer_reference": "customerReference",
    "destination_postcode": "destination.postcode",
    "destination_country": "destination.countryCode",
    "destination_town": "destination.town",
    "recipient_name": "recipientName",
    "recipient_email": "recipientEmail",
}

ERROR_TYPES = {
    400: "Validation Failed",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
}


# -- The error envelope ----------------------------------------------------------------------


class ReferenceLookupsThrottled(exceptions.Throttled):
    """The brand named too many references that someone holds (RATE_LIMIT_LOOKUP)."""


def error_response(status: int, error_type: str, messages: list[str]) -> JsonResponse:
    return JsonResponse({"ErrorType": error_type, "ErrorMessages": messages}, status=status)


def not_found(request) -> JsonResponse:
    return error_response(404, "Not Found", [f"No resource at {request.path}."])


def server_error(request) -> JsonResponse:
    return error_response(500, "Server Error", ["Something went wrong on our side."])


def _sentence(field: str, message: str) -> str:
    message = str(message)
    text = f"{field} {message}" if field else message
    return text if text.endswith((".", "?", "!")) else f"{text}."


def _messages(detail, field: str = "") -> list[str]:
    """DRF's nested error detail as flat sentences naming the wire field (packages[1].reference)."""
    if isinstance(detail, Mapping):
        found = []
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                name = field
            elif isinstance(key, int):  # a ListField's item
                name = f"{field}[{key}]"
            else:
                name = f"{field}.{key}" if field else str(key)
            found += _messages(value, name)
        return found
    if isinstance(detail, list):
        found = []
        for index, item in enumerate(detail):
            if isinstance(item, Mapping | list):
                found += _messages(item, f"{field}[{index}]")
            else:
                found.append(_sentence(field, item))
        return found
    return [_sentence(field, detail)]


def _service_messages(error: DjangoValidationError) -> list[str]:
    if not hasattr(error, "error_dict"):
        return [_sentence("", message) for message in error.messages]
    return [
        _sentence("" if name == "__all__" else WIRE_NAMES.get(name, name), message)
        for name, messages in error.message_dict.items()
        for message in messages
    ]


def handle_exception(exc, context) -> Response | None:
    """Every 4xx of /v1 in Consignly's envelope; anything else is a bug and becomes a 500."""
    headers = {}
    if isinstance(exc, DjangoValidationError):
        status, messages = 400, _service_messages(exc)
    elif isinstance(exc, access.NotFound | Http404):
        status, messages = 404, ["Not found."]
    elif isinstance(exc, DjangoPermissionDenied):
        status, messages = 403, ["You may not do this."]
    elif isinstance(exc, RequestDataTooBig):
        status, messages = 413, ["The request body is too large."]
    elif isinstance(exc, exceptions.APIException):
        status = exc.status_code
        if isinstance(exc, exceptions.ParseError):
            reason = str(exc.detail).removeprefix("JSON parse error - ")
            messages = [f"The request body is not valid JSON ({reason})."]
        elif isinstance(exc, exceptions.UnsupportedMediaType):
            messages = ["Request bodies must be sent as application/json."]
        elif isinstance(exc, ReferenceLookupsThrottled):
            wait = math.ceil(exc.wait or 1)
            messages = [
                f"Too many references that cannot be used; retry in {wait} seconds, or leave "
                "references out to have them generated."
            ]
        elif isinstance(exc, exceptions.Throttled):
            wait = math.ceil(exc.wait or 1)
            messages = [f"Too many requests for this API key; retry in {wait} seconds."]
        else:
            messages = _messages(exc.detail)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(math.ceil(exc.wait))
    else:
        return None
    set_rollback()
    error_type = ERROR_TYPES.get(status) or http.HTTPStatus(status).phrase
    body = {"ErrorType": error_type, "ErrorMessages": messages}
    return Response(body, status=status, headers=headers)


class ErrorSerializer(serializers.Serializer):
    ErrorType = serializers.CharField(help_text="Validation Failed, Unauthorized, Not Found, ...")
    ErrorMessages = serializers.ListField(
        child=serializers.CharField(), help_text="Each names the field and the rule broken."
    )

    class Meta:
        ref_name = "ConsignlyError"


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


KEY_ERRORS = {
    401: _error("Missing or invalid `Authorization: Bearer <client key>`."),
    403: _error("The key is not a client key (carrier keys have no access to /v1)."),
    429: _error("Rate limit for this key exceeded; see Retry-After."),
}
ERRORS = {
    **KEY_ERRORS,
    404: _error(
        "No such consignment or tracking record for this key's brand (a malformed id is a 404 too)."
    ),
}
BAD_INPUT = {400: _error("Validation Failed: each message names the field and the rule.")}
BAD_BODY = {
    **BAD_INPUT,
    413: _error("The body is larger than the server accepts (2.5 MB)."),
    415: _error("The body was not sent as application/json."),
}
NOT_MODIFIED = OpenApiResponse(description="Not modified: nothing changed, nothing stored.")
HEADERS = [
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[429],
        required=True,
        description="Seconds until the key's allowance is renewed.",
    ),
    OpenApiParameter(
        "WWW-Authenticate",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[401],
        required=True,
        description='`Bearer realm="api"`',
    ),
]


def _path(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        OpenApiTypes.UUID,
        OpenApiParameter.PATH,
        description=f"{description} A value that is not a UUID is answered with 404.",
    )


CONSIGNMENT_ID = _path("consignmentId", "The consignment ID.")
TRACKING_ID = _path("consignmentTrackingId", "The tracking record ID.")


# -- Strict wire fields ------------------------------------------------------------------------
# JSON clients send real types: "3" is not a status and 3 is not a tracking number. Messages
# read as rules, so "<field> <rule>." is the sentence a client sees.

FIELD_RULES = {"required": "is required", "null": "must not be null"}


def _raise_rule(check, *args):
    """Run a services.check_* helper and report its rule as this field's error."""
    try:
        return check(*args)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from None


# Rules a string must follow, as regexes the OpenAPI schema shows as `pattern` so a generated
# client (or a fuzzer) knows them. JSON Schema regexes have no flags (hence [Hh]) and a narrower
# \s than Python's, so whitespace is spelt out: exactly the characters str.isspace() accepts,
# which is what Python's \s, str.strip() and the model's URL check use.
WS = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NUL_FREE = r"^[^\x00]*$"
HTTP_URL = rf"^([Hh][Tt][Tt][Pp][Ss]?://[^{WS}/$.?#][^{WS}]*)?$"  # models.validate_http_url
EVENT_CODE = rf"^[{WS}]*[A-Za-z0-9]+(?:(?:[{WS}-]+|_)[A-Za-z0-9]+)*[{WS}]*$"  # normalise_code
COUNTRY_CODE = r"^[A-Za-z]{2}$"
NOT_BLANK = rf"^[^\x00]*[^{WS}\x00][^\x00]*$"


def reference_pattern(prefix: str) -> str:
    """EC-/EP- references in any case, with stray spaces: a person may have typed them."""
    letters = "".join(f"[{c}{c.lower()}]" for c in prefix)
    part = "[0-9A-Za-z]{3}"
    return rf"^[{WS}]*({letters}-{part}-{part}-{part}[{WS}]*)?$"


class Text(serializers.CharField):
    default_error_messages = {
        **FIELD_RULES,
        "invalid": "must be a string",
        "max_length": "must be at most {max_length} characters",
        "nul": "must not contain NUL characters",
        "surrogate": "must be valid Unicode text",
    }

    def __init__(
        self,
        *,
        trim: bool = False,
        pattern: str = NUL_FREE,
        rule: str = "must not contain NUL characters",
        **kwargs,
    ):
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.trim = trim
        self.pattern, self.rule = re.compile(pattern), rule
        self.validators.append(RegexValidator(self.pattern, rule))  # what the schema shows

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:
            self.fail("nul")  # PostgreSQL cannot store it
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("surrogate")  # a lone surrogate from a \ud800 escape
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)  # as sent, before any trimming
        if not self.pattern.search(data):
            raise serializers.ValidationError(self.rule)
        return data.strip() if self.trim else data


class Nullable(serializers.CharField):
    """An optional string on the way out: Consignly sends null, never "", for no value."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, read_only=True, **kwargs)

    def to_representation(self, value):
        return value or None


class Url(Text):
    def __init__(self, **kwargs):
        rule = "must be an http:// or https:// URL"
        super().__init__(max_length=URL_MAX, pattern=HTTP_URL, rule=rule, **kwargs)


@extend_schema_field({"type": "string", "format": "email", "maxLength": 254})
class Email(Text):
    def __init__(self, **kwargs):
        super().__init__(max_length=254, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data).strip()
        if value:
            try:
                validate_email(value)
            except DjangoValidationError:
                raise serializers.ValidationError("must be an email address") from None
        return value


class Reference(Text):
    """An EC-/EP- reference, kept in canonical form (upper case, no spaces)."""

    def __init__(self, *, prefix: str, **kwargs):
        rule = f"must look like {prefix}-XXX-XXX-XXX"
        super().__init__(max_length=40, pattern=reference_pattern(prefix), rule=rule, **kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(data).strip().upper()


class Integer(serializers.IntegerField):
    default_error_messages = {**FIELD_RULES, "invalid": "must be an integer"}

    def __init__(self, *, min_value: int, max_value: int, **kwargs):
        rule = f"must be between {min_value} and {max_value}"
        kwargs["error_messages"] = {"min_value": rule, "max_value": rule}
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_internal_value(self, data):
        # int() would take "3", 3.0 and True; a JSON client meaning 3 sends 3.
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class Status(Integer):
    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", f"Tracking status: {STATUS_HELP}.")
        super().__init__(min_value=rules.STATUS_MIN, max_value=rules.STATUS_MAX, **kwargs)


class Sequence(Integer):
    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text", "Our addition: leg order, lower is earlier (default: after the last)."
        )
        super().__init__(min_value=1, max_value=SEQUENCE_MAX, **kwargs)


class EventTime(serializers.DateTimeField):
    default_error_messages = {
        **FIELD_RULES,
        "invalid": "must be an ISO-8601 date and time such as 2026-03-09T23:40:11Z",
    }
    _SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")

    def to_internal_value(self, value):
        if not isinstance(value, str) or not self._SHAPE.match(value):
            self.fail("invalid")
        try:
            parsed = parse_datetime(value)
            if parsed is None:
                self.fail("invalid")
            # No offset means UTC; Consignly's own values are warehouse-local, ours are not.
            if timezone.is_naive(parsed):
                parsed = parsed.replace(tzinfo=dt.UTC)
            parsed = parsed.astimezone(dt.UTC)
        except (ValueError, OverflowError):
            self.fail("invalid")
        # The wire carries whole seconds, so a client can re-send what it read as a duplicate.
        parsed = parsed.replace(microsecond=0)
        _raise_rule(services.check_occurred_at, "eventDateTime", parsed, timezone.now())
        return parsed


class Day(serializers.DateField):
    default_error_messages = {**FIELD_RULES, "invalid": "must be a date such as 2026-03-09"}

    def to_internal_value(self, value):
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            self.fail("invalid")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail("invalid")


class UtcTime(serializers.DateTimeField):
    """UTC to the second with a Z: 2026-03-09T23:40:11Z."""

    def to_representation(self, value):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- Request bodies ----------------------------------------------------------------------------


class Body(serializers.Serializer):
    # A JSON object whose keys must all be fields, except the resource's read-only ones.

    default_error_messages = {**FIELD_RULES, "invalid": "must be a JSON object"}
    ignored: tuple[str, ...] = ()

    def to_internal_value(self, data):
        errors = {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(data, Mapping):
                raise
            errors = dict(exc.detail)
        for key in data:
            if key not in self.fields and key not in self.ignored:
                errors[key] = [f"is not a field of this request (fields: {', '.join(self.fields)})"]
        if errors:
            raise serializers.ValidationError(errors)
        return value


class BodyScheme(OpenApiSerializerExtension):
    """Request schemas as Body reads them: no keys beyond the fields and the ignored ones, and
    no separate blank-string branch where the field's own pattern already allows ""."""

    target_class = Body
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        for prop in schema.get("properties", {}).values():
            inner, blank = ([*prop.get("oneOf", []), None, None])[:2]
            if (
                blank == {"type": "string", "maxLength": 0}
                and "format" not in inner
                and re.search(inner.get("pattern", ""), "")
            ):
                prop.update(prop.pop("oneOf")[0])
        for name in self.target.ignored:
            schema["properties"][name] = {"description": "Read-only; ignored when sent back."}
        schema["additionalProperties"] = False
        return schema


class ConsignlyTrackingChangeSerializer(Body):
    """Create or update a tracking record. On update, absent keys are unchanged and null clears."""

    ignored = LEG_READ_ONLY
    carrierName = Text(
        source="carrier_name", max_length=NAME_MAX, allow_null=True, help_text="Carrier name."
    )
    status = Status(required=False)
    trackingNumber = Text(
        source="tracking_number",
        max_length=REFERENCE_MAX,
        trim=True,
        allow_null=True,
        help_text="Carrier tracking number.",
    )
    trackingUrl = Url(
        source="tracking_url", allow_null=True, help_text="http:// or https:// URL to track it."
    )
    sequence = Sequence()


class ConsignlyEventSerializer(Body):
    ignored = ("createdUtc",)
    status = Status(required=True)
    details = Text(source="description", max_length=TEXT_MAX, allow_null=True)
    eventDateTime = EventTime(
        source="occurred_at",
        required=False,
        allow_null=True,
        help_text=(
            "When it happened, ISO-8601 with Z or an offset; a value without one is taken as "
            "UTC. A value sent is kept to the second; the default, now, keeps the server's "
            "microseconds (shown to the second, like every time here)."
        ),
    )
    carrierName = Text(
        source="carrier_name",
        max_length=NAME_MAX,
        allow_null=True,
        help_text="Renames the record's carrier when it differs.",
    )
    code = Text(
        max_length=rules.CODE_MAX_LENGTH,
        pattern=EVENT_CODE,
        rule="must be letters, digits and underscores, like DELIVERED",
        allow_null=True,
        help_text="Our addition: carrier event code such as OUT_FOR_DELIVERY "
        "(default: the status's own code).",
    )
    location = Text(max_length=NAME_MAX, allow_null=True, help_text="Our addition.")
    signedBy = Text(
        source="signed_by", max_length=NAME_MAX, allow_null=True, help_text="Our addition."
    )
    packageReference = Reference(
        source="package_reference",
        prefix="EP",
        allow_null=True,
        help_text="Our addition: the EP- reference of the one package this event is about "
        "(default: every package of the record).",
    )

    def validate_code(self, value):
        return _raise_rule(services.check_code, "code", value) if value is not None else None


class ConsignlyDestinationSerializer(Body):
    postcode = Text(max_length=20, allow_null=True, help_text="Optional where none exist.")
    countryCode = Text(
        required=True,
        pattern=COUNTRY_CODE,
        rule="must be a two-letter ISO country code",
        help_text="ISO 3166 alpha-2, e.g. GB.",
    )
    town = Text(required=True, max_length=NAME_MAX, pattern=NOT_BLANK, rule="must not be blank")

    def validate_countryCode(self, value):
        return value.upper()


class ConsignlyNewPackageSerializer(Body):
    ignored = ("id", "status")
    reference = Reference(prefix="EP", allow_null=True, help_text="Default: generated.")
    description = Text(max_length=TEXT_MAX, allow_null=True)


class PackageList(serializers.ListField):
    default_error_messages = {
        **FIELD_RULES,
        "not_a_list": "must be a list",
        "empty": "must list at least one package",
        "min_length": "must list at least one package",
        "max_length": "must list at most {max_length} packages",
    }


class ConsignlyNewConsignmentSerializer(Body):
    ignored = ("id", "status", "createdUtc", "consignmentTracking", "trackingPageUrl")
    reference = Reference(
        prefix="EC",
        allow_null=True,
        help_text="EC-XXX-XXX-XXX of your own (default: drawn at random).",
    )
    customerReference = Text(source="customer_reference", max_length=REFERENCE_MAX, allow_null=True)
    destination = ConsignlyDestinationSerializer()
    recipientName = Text(source="recipient_name", max_length=NAME_MAX, allow_null=True)
    recipientEmail = Email(source="recipient_email", allow_null=True)
    expectedDeliveryDate = Day(source="expected_delivery_date", required=False, allow_null=True)
    packages = PackageList(
        child=ConsignlyNewPackageSerializer(),
        allow_empty=False,
        min_length=1,
        max_length=PACKAGES_MAX,
    )

    def validate_packages(self, packages):
        references = [p["reference"] for p in packages if p.get("reference")]
        repeated = sorted({r for r in references if references.count(r) > 1})
        if repeated:
            raise serializers.ValidationError(
                f"must not repeat a reference ({', '.join(repeated)})"
            )
        return packages


# -- Responses ---------------------------------------------------------------------------------


class ConsignlyTrackingSerializer(serializers.Serializer):
    """A tracking record (list item, and the consignment's `consignmentTracking`)."""

    id = serializers.UUIDField()
    carrierName = Nullable(source="carrier_name")
    status = Status()
    trackingNumber = Nullable(source="tracking_number")
    trackingUrl = Nullable(source="tracking_url")
    integrationName = Nullable(
        source="integration_name",
        help_text="Name of the API key that created the record.",
    )
    createdUtc = UtcTime(source="created_utc")
    modifiedUtc = UtcTime(source="modified_utc")
    lastUpdatedDate = serializers.DateField(
        source="last_updated_date", format="%Y-%m-%d", help_text="UTC date of the last change."
    )


class ConsignlyTrackingEventSerializer(serializers.Serializer):
    status = Status()
    details = Nullable(source="description")
    eventDateTime = UtcTime(source="occurred_at", help_text="True UTC (Consignly: local time).")
    createdUtc = UtcTime(source="received_at", help_text="When we received the event.")


class ConsignlyTrackingDetailSerializer(ConsignlyTrackingSerializer):
    sequence = serializers.IntegerField(help_text="Our addition: leg order, lower is earlier.")
    trackingEvents = ConsignlyTrackingEventSerializer(
        source="events", many=True, help_text="Oldest first."
    )


class ConsignlyConsignmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    reference = serializers.CharField()
    customerReference = Nullable(source="customer_reference")
    status = Status(help_text=f"Roll-up of the packages' statuses: {STATUS_HELP}.")
    createdUtc = UtcTime(source="created_utc")


class ConsignlyPackageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    reference = serializers.CharField()
    description = Nullable()
    status = Status()


class ConsignlyConsignmentDetailSerializer(serializers.Serializer):
    """A consignment read from its Timeline."""

    id = serializers.UUIDField(source="consignment.id")
    reference = serializers.CharField(source="consignment.reference")
    customerReference = Nullable(source="consignment.customer_reference")
    status = Status(source="consignment.status", help_text="Roll-up of the packages' statuses.")
    packages = ConsignlyPackageSerializer(many=True)
    consignmentTracking = ConsignlyTrackingSerializer(
        source="legs", many=True, help_text="In leg order."
    )
    trackingPageUrl = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_trackingPageUrl(self, timeline) -> str:
        reference = timeline.consignment.reference
        return self.context["request"].build_absolute_uri(f"/track/{reference}/")


CREATED_TRACKING = inline_serializer(
    "ConsignlyTrackingCreated", {"consignmentTrackingId": serializers.UUIDField()}
)
CREATED_CONSIGNMENT = inline_serializer(
    "ConsignlyConsignmentCreated",
    {"consignmentId": serializers.UUIDField(), "reference": serializers.CharField()},
)


# -- Paging and search -------------------------------------------------------------------------


def _query(request, name: str) -> str | None:
    """A query parameter by name in any case (ASP.NET binds them case-insensitively)."""
    wanted = name.lower()
    for key in request.query_params:
        if key.lower() == wanted:
            return request.query_params.getlist(key)[0]
    return None


def _int_query(request, name: str, default: int, low: int, high: int, errors: list) -> int:
    raw = _query(request, name)
    if raw is None:
        return default
    if not re.fullmatch(r"[+-]?\d{1,12}", raw.strip()):
        errors.append(f"{name} must be an integer.")
        return default
    value = int(raw)
    if not low <= value <= high:
        errors.append(f"{name} must be between {low} and {high}.")
    return value


class Page(BasePagination):
    """Consignly's envelope: {"index", "total", "<items>"}; past the end is [] with the total."""

    items_key = "items"

    def paginate_queryset(self, queryset, request, view=None):
        errors = []
        self.index = _int_query(request, "PageIndex", 1, 1, PAGE_INDEX_MAX, errors)
        size = _int_query(request, "PageSize", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX, errors)
        if errors:
            raise serializers.ValidationError(errors)
        self.total = queryset.count()
        start = (self.index - 1) * size
        return list(queryset[start : start + size])

    def get_paginated_response(self, data):
        return Response({"index": self.index, "total": self.total, self.items_key: data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["index", "total", self.items_key],
            "properties": {
                "index": {
                    "type": "integer",
                    "example": 1,
                    "description": "The page returned (1-based).",
                },
                "total": {"type": "integer", "example": 1, "description": "All matching records."},
                self.items_key: schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        def integer(name, default, high, description):
            return {
                "name": name,
                "in": "query",
                "required": False,
                "description": f"{description} The name is matched in any case.",
                "schema": {"type": "integer", "minimum": 1, "maximum": high, "default": default},
            }

        return [
            integer("PageIndex", 1, PAGE_INDEX_MAX, "Page number, from 1."),
            integer("PageSize", PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, "Records per page, 1 to 500."),
        ]


class TrackingPage(Page):
    items_key = "consignmentTracking"


class ConsignmentPage(Page):
    items_key = "consignments"


class SearchText(BaseFilterBackend):
    """Case-insensitive substring over the view's `search_fields`."""

    def filter_queryset(self, request, queryset, view):
        text = _query(request, "SearchText") or ""
        if "\x00" in text:
            raise serializers.ValidationError(["SearchText must not contain NUL characters."])
        if len(text) > SEARCH_MAX:
            raise serializers.ValidationError(
                [f"SearchText must be at most {SEARCH_MAX} characters."]
            )
        if not text:
            return queryset
        match = Q()
        for name in view.search_fields:
            match |= Q(**{f"{name}__icontains": text})
        return queryset.filter(match)

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "SearchText",
                "in": "query",
                "required": False,
                "description": f"All or part of {view.search_description} (any case).",
                "schema": {"type": "string", "maxLength": SEARCH_MAX, "pattern": "^[^\\u0000]*$"},
            }
        ]


# -- Views -------------------------------------------------------------------------------------


def _json_body(body: bytes) -> HttpResponse:
    """A body already rendered (and kept per timeline version): sent as it is."""
    return HttpResponse(body, content_type="application/json")


def _found(what: str, load, *args, **kwargs):
    """Load through access.py; missing and foreign answer alike."""
    try:
        return load(*args, **kwargs)
    except access.NotFound:
        raise exceptions.NotFound(f"{what} not found.") from None


def _read(request, serializer_class) -> dict:
    """The validated body. A body without a Content-Type is refused rather than ignored."""
    if not request.content_type and request.stream is not None:
        raise exceptions.UnsupportedMediaType("")
    if not isinstance(request.data, dict):
        raise serializers.ValidationError(["The request body must be a JSON object."])
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# A reference that someone holds is refused, which tells the caller it exists: a lookup, like
# the page's, so it counts against RATE_LIMIT_LOOKUP. Per brand, the tenant that learns the
# answer, however many keys it has or addresses it sends from (several brands' integrations
# often share one platform's address, so an address counter would let one block the others).
# The wording is the same whoever holds the reference, and own-brand refusals count too, so
# neither the answer nor the allowance tells one brand's references from another's.
REFERENCE_LOOKUP_SCOPE = "api-reference-lookup"
REFERENCE_IN_USE = "reference_in_use"  # services' code for a reference held by anyone


def _reference_lookups(request) -> tuple[str, str, str]:
    return REFERENCE_LOOKUP_SCOPE, str(request.auth.brand_id), settings.RATE_LIMIT_LOOKUP


def _check_lookup_allowance(request) -> None:
    """Once the allowance is spent, a request naming its own references is refused before any
    is looked at: storing a free one and refusing a held one would still tell them apart."""
    decision = ratelimit.peek(*_reference_lookups(request))
    if not decision.allowed:
        raise ReferenceLookupsThrottled(wait=decision.retry_after)


def _refused_reference(request, error: DjangoValidationError) -> str | None:
    """The message for services' refusal of a reference someone holds, counted as a lookup;
    None for any other error."""
    for name, errors in getattr(error, "error_dict", {}).items():
        for item in errors:
            if item.code == REFERENCE_IN_USE:
                decision = ratelimit.hit(*_reference_lookups(request))
                if not decision.allowed:  # only when requests raced past the check together
                    raise ReferenceLookupsThrottled(wait=decision.retry_after)
                field, reference = WIRE_NAMES.get(name, name), item.params["reference"]
                return f"{field} {reference} cannot be used; leave it out to have one generated."
    return None


class ConsignlyViewSet(viewsets.GenericViewSet):
    authentication_classes = [BearerKeyAuthentication]
    permission_classes = [HasClientKey]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [SafeJSONParser]
    renderer_classes = [JSONRenderer]
    filter_backends = [SearchText]
    metadata_class = None  # OPTIONS is 405 like any other unsupported method
    lookup_value_regex = "[^/]+"  # anything reaches the view, so a non-UUID id is a plain 404

    def get_exception_handler(self):
        return handle_exception  # /v1's envelope; the Sorted API has its own

    @property
    def allowed_methods(self):
        return [method for method in super().allowed_methods if method != "OPTIONS"]


@extend_schema_view(
    list=extend_schema(
        operation_id="consignly_tracking_list",
        summary="Get tracking records",
        description="A consignment's tracking records, oldest first (createdUtc, then id).",
        parameters=[CONSIGNMENT_ID, *HEADERS],
        responses={200: ConsignlyTrackingSerializer(many=True), **BAD_INPUT, **ERRORS},
        examples=[
            OpenApiExample(
                "Tracking records",
                response_only=True,
                value={
                    "id": "550e8400-e29b-41d4-a716-446655440600",
                    "carrierName": "Fast Freight Co",
                    "status": 2,
                    "trackingNumber": "FF123456789",
                    "trackingUrl": "https://fastfreight.com/track/FF123456789",
                    "integrationName": "Fast Freight Integration",
                    "createdUtc": "2024-01-18T09:00:00Z",
                    "modifiedUtc": "2024-01-19T14:30:00Z",
                    "lastUpdatedDate": "2024-01-19",
                },
            )
        ],
    ),
    create=extend_schema(
        operation_id="consignly_tracking_create",
        summary="Create tracking record",
        description="A status above 0 also appends an event with that status, occurring now. "
        "integrationName is the name of the API key used.",
        parameters=[CONSIGNMENT_ID, *HEADERS],
        request=ConsignlyTrackingChangeSerializer,
        responses={200: CREATED_TRACKING, **BAD_BODY, **ERRORS},
        examples=[
            OpenApiExample(
                "New record",
                request_only=True,
                value={
                    "carrierName": "Fast Freight Co",
                    "status": 1,
                    "trackingNumber": "FF123456789",
                    "trackingUrl": "https://fastfreight.com/track/FF123456789",
                },
            )
        ],
    ),
    retrieve=extend_schema(
        operation_id="consignly_tracking_retrieve",
        summary="Get specific tracking record and events",
        parameters=[CONSIGNMENT_ID, TRACKING_ID, *HEADERS],
        responses={200: ConsignlyTrackingDetailSerializer, **ERRORS},
    ),
    update=extend_schema(
        operation_id="consignly_tracking_update",
        summary="Update tracking record",
        description="Absent keys are unchanged and null clears. A new status appends an event. "
        "Read-only keys (id, integrationName, createdUtc, modifiedUtc, lastUpdatedDate, "
        "trackingEvents) are ignored, so a record read with GET can be sent back.",
        parameters=[CONSIGNMENT_ID, TRACKING_ID, *HEADERS],
        request=ConsignlyTrackingChangeSerializer,
        responses={
            200: OpenApiResponse(description="Tracking record updated; empty body."),
            304: NOT_MODIFIED,
            **BAD_BODY,
            **ERRORS,
        },
    ),
    event=extend_schema(
        operation_id="consignly_tracking_event_create",
        summary="Create tracking event",
        description="An event already stored (same status or code, details, eventDateTime and "
        "package) is answered with 304 and stored again never. A late event is stored in its "
        "place in the timeline and never moves the status backwards.",
        parameters=[CONSIGNMENT_ID, TRACKING_ID, *HEADERS],
        request=ConsignlyEventSerializer,
        responses={
            200: OpenApiResponse(description="Tracking event record created; empty body."),
            304: NOT_MODIFIED,
            **BAD_BODY,
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "Out for delivery",
                request_only=True,
                value={"carrierName": "Last Mile Delivery", "status": 4, "details": "On its way!"},
            )
        ],
    ),
)
@extend_schema(tags=[TAG])
class TrackingViewSet(mixins.ListModelMixin, ConsignlyViewSet):
    """/v1/consignments/{consignmentId}/tracking[/{consignmentTrackingId}[/event]]"""

    serializer_class = ConsignlyTrackingSerializer
    pagination_class = TrackingPage
    search_fields = ("carrier_name", "tracking_number")
    search_description = "the carrier name or tracking number"
    lookup_url_kwarg = "consignmentTrackingId"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TrackingRecord.objects.none()
        legs = _found(
            "Consignment", access.legs_for_key, self.request.auth, self.kwargs["consignmentId"]
        )
        return legs.order_by("created_utc", "id")

    def _leg(self) -> TrackingRecord:
        return _found(
            "Tracking record",
            access.leg_for_key,
            self.request.auth,
            self.kwargs["consignmentId"],
            self.kwargs["consignmentTrackingId"],
        )

    def create(self, request, *args, **kwargs):
        consignment = _found(
            "Consignment", access.consignment_for_key, request.auth, kwargs["consignmentId"]
        )
        body = _read(request, ConsignlyTrackingChangeSerializer)
        leg = services.add_leg(
            consignment=consignment,
            source=SOURCE,
            carrier_name=body.get("carrier_name") or "",
            tracking_number=body.get("tracking_number") or "",
            tracking_url=body.get("tracking_url") or "",
            status=body.get("status", rules.Status.UNKNOWN),
            sequence=body.get("sequence"),
            integration_name=request.auth.name,
        )
        return Response({"consignmentTrackingId": str(leg.pk)})

    def retrieve(self, request, *args, **kwargs):
        timeline = _found(
            "Consignment",
            access.timeline_for_key,
            request.auth,
            consignment_id=kwargs["consignmentId"],
        )
        try:
            leg_id = uuid.UUID(kwargs["consignmentTrackingId"])
        except ValueError:
            raise exceptions.NotFound("Tracking record not found.") from None

        def body() -> bytes:
            leg = timeline.leg(leg_id)
            if leg is None:
                raise exceptions.NotFound("Tracking record not found.")
            return JSONRenderer().render(ConsignlyTrackingDetailSerializer(leg).data)

        return _json_body(timeline.cached(f"consignly-leg:{leg_id}", body))

    def update(self, request, *args, **kwargs):
        leg = self._leg()
        changed = services.update_leg(
            leg=leg, source=SOURCE, **_read(request, ConsignlyTrackingChangeSerializer)
        )
        return Response(status=200 if changed else 304)

    @action(detail=True, methods=["post"], url_path="event", url_name="event")
    def event(self, request, *args, **kwargs):
        leg = self._leg()
        body = _read(request, ConsignlyEventSerializer)
        package = self._package(leg, body.get("package_reference"))
        code = body.get("code") or rules.code_for_status(body["status"])
        description = body.get("description") or ""
        occurred_at = body.get("occurred_at")
        if occurred_at is not None:
            occurred_at = _instant_shown(leg, package, code, description, occurred_at)
        changed = services.record_event(
            leg=leg,
            source=SOURCE,
            status=body["status"],
            code=code,
            description=description,
            location=body.get("location") or "",
            signed_by=body.get("signed_by") or "",
            # None: the service stamps its own now, to the microsecond like every other write
            # (design section 1, "One clock"), so this event sorts after one written a moment
            # earlier in the same second.
            occurred_at=occurred_at,
            package=package,
            carrier_name=body.get("carrier_name"),
        )
        return Response(status=200 if changed else 304)

    @staticmethod
    def _package(leg: TrackingRecord, reference: str | None):
        if not reference:
            return None
        package = access.packages_by_reference({reference}).get(reference)
        # Another brand's package reads exactly like one that does not exist.
        if package is None or package.consignment_id != leg.consignment_id:
            raise serializers.ValidationError(
                {"packageReference": [f"{reference} is not a package of this consignment"]}
            )
        return package


def _instant_shown(leg, package, code: str, description: str, second: dt.datetime) -> dt.datetime:
    """The stored instant that the wire showed as `second`, for an event identical on the wire.

    Stored times keep microseconds but the wire prints whole seconds, so an event read back
    and posted again names its second, not its instant. When the leg has an event with the same
    package, code and details within that second, this is that event's instant, and the service
    finds the post a duplicate (304, design section 2); otherwise the second as sent. The
    event_leg_time index serves the look-up.
    """
    shown = (
        leg.events.filter(
            package=package,
            code=code,
            description=description,
            occurred_at__gte=second,
            occurred_at__lt=second + dt.timedelta(seconds=1),
        )
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return shown or second


@extend_schema_view(
    list=extend_schema(
        operation_id="consignly_consignments_list",
        summary="Get consignments",
        description="The key's brand's consignments, oldest first (createdUtc, then id).",
        parameters=HEADERS,
        responses={200: ConsignlyConsignmentSerializer(many=True), **BAD_INPUT, **KEY_ERRORS},
    ),
    create=extend_schema(
        operation_id="consignly_consignments_create",
        summary="Create consignment",
        description="A consignment with at least one package; references are generated "
        "where not given. A reference of your own that is already held (by anyone) is refused "
        "with 400, and each such refusal counts against your brand's lookup allowance.",
        parameters=HEADERS,
        request=ConsignlyNewConsignmentSerializer,
        responses={
            200: CREATED_CONSIGNMENT,
            **BAD_BODY,
            **KEY_ERRORS,
            429: _error(
                "Rate limit for this key exceeded, or the brand has named too many references "
                "that cannot be used (then only requests naming their own references are "
                "refused); see Retry-After."
            ),
        },
        examples=[
            OpenApiExample(
                "Two parcels",
                request_only=True,
                value={
                    "customerReference": "ORDER-1042",
                    "destination": {"postcode": "SW1A 1AA", "countryCode": "GB", "town": "London"},
                    "recipientName": "Alex Morgan",
                    "expectedDeliveryDate": "2026-03-12",
                    "packages": [{"description": "Boots"}, {"description": "Socks"}],
                },
            )
        ],
    ),
    retrieve=extend_schema(
        operation_id="consignly_consignments_retrieve",
        summary="Get consignment",
        parameters=[CONSIGNMENT_ID, *HEADERS],
        responses={200: ConsignlyConsignmentDetailSerializer, **ERRORS},
    ),
)
@extend_schema(tags=[TAG])
class ConsignmentViewSet(mixins.ListModelMixin, ConsignlyViewSet):
    """/v1/consignments[/{consignmentId}]"""

    serializer_class = ConsignlyConsignmentSerializer
    pagination_class = ConsignmentPage
    search_fields = ("reference", "customer_reference")
    search_description = "the reference or customer reference"
    lookup_url_kwarg = "consignmentId"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Consignment.objects.none()
        return access.consignments_for_key(self.request.auth).order_by("created_utc", "id")

    def create(self, request, *args, **kwargs):
        body = _read(request, ConsignlyNewConsignmentSerializer)
        if body.get("reference") or any(p.get("reference") for p in body["packages"]):
            _check_lookup_allowance(request)
        destination = body["destination"]
        try:
            consignment = services.create_consignment(
                brand=request.auth.brand,
                packages=[
                    PackageSpec(
                        reference=p.get("reference"), description=p.get("description") or ""
                    )
                    for p in body["packages"]
                ],
                reference=body.get("reference"),
                customer_reference=body.get("customer_reference") or "",
                destination_postcode=destination.get("postcode") or "",
                destination_country=destination["countryCode"],
                destination_town=destination["town"],
                recipient_name=body.get("recipient_name") or "",
                recipient_email=body.get("recipient_email") or "",
                expected_delivery_date=body.get("expected_delivery_date"),
            )
        except DjangoValidationError as error:
            # services raises the same error when another request took the reference between
            # its check and its insert, so a race reads like any other refusal.
            message = _refused_reference(request, error)
            if message is None:
                raise
            raise serializers.ValidationError([message]) from None
        return Response({"consignmentId": str(consignment.pk), "reference": consignment.reference})

    def retrieve(self, request, *args, **kwargs):
        timeline = _found(
            "Consignment",
            access.timeline_for_key,
            request.auth,
            consignment_id=kwargs["consignmentId"],
        )
        # The body names the tracking page's absolute URL, so it is kept per host.
        return _json_body(
            timeline.cached(
                f"consignly:{request.scheme}://{request.get_host()}",
                lambda: JSONRenderer().render(
                    ConsignlyConsignmentDetailSerializer(
                        timeline, context={"request": request}
                    ).data
                ),
            )
        )


router = SimpleRouter(trailing_slash=False)
router.register("consignments", ConsignmentViewSet, basename="consignly-consignment")
router.register(
    r"consignments/(?P<consignmentId>[^/]+)/tracking",
    TrackingViewSet,
    basename="consignly-tracking",
)
urlpatterns = router.urls
