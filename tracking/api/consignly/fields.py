"""The /v1 wire's fields and shapes: strict JSON fields, request bodies and response serializers.

Each field checks its value with the rule of tracking.fields and words the problem as /v1 does:
"<field> <rule>." is the sentence a client reads.
"""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator, validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from tracking import fields as value_rules
from tracking import services
from tracking import status as rules
from tracking.api import wire
from tracking.fields import (
    EMAIL_MAX,
    NAME_MAX,
    POSTCODE_MAX,
    REFERENCE_MAX,
    TEXT_MAX,
    URL_MAX,
    WEBHOOK_SECRET_BYTES,
    WEBHOOK_SECRET_PREFIX,
)
from tracking.models import SUBSCRIBABLE_TYPES, WebhookSubscription

# The largest request body /v1 reads: 2.5 MiB, as it always has (Django's default
# DATA_UPLOAD_MAX_MEMORY_SIZE), whatever the forms' setting says.
BODY_MAX = 5 * 1024 * 1024 // 2
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


TEXT_PROBLEMS = {
    value_rules.TOO_LONG: "max_length",
    value_rules.NUL: "nul",  # PostgreSQL cannot store it
    value_rules.SURROGATE: "surrogate",  # a lone surrogate from a \ud800 escape
}


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
        limit = self.max_length if self.max_length is not None else len(data)
        problem = value_rules.check_text(data, limit)  # as sent, before any trimming
        if problem is not None:
            self.fail(TEXT_PROBLEMS[problem.code], max_length=problem.limit)
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


@extend_schema_field({"type": "string", "format": "email", "maxLength": EMAIL_MAX})
class Email(Text):
    def __init__(self, **kwargs):
        super().__init__(max_length=EMAIL_MAX, **kwargs)

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
        return value_rules.canonical_reference(super().to_internal_value(data))


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
        problem = value_rules.check_event_time(parsed, timezone.now())
        if problem is not None:
            raise serializers.ValidationError(services.rule_message(problem))
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
    # A JSON object of these fields. wire.read_json has matched the client's names to them in
    # any case and dropped the rest (unknown and read-only ones) before this reads it.

    default_error_messages = {**FIELD_RULES, "invalid": "must be a JSON object"}
    ignored: tuple[str, ...] = ()  # read-only fields a client may send back

    @classmethod
    def wire_shape(cls) -> wire.Shape:
        """The body as wire.read_json matches it: these fields, nested bodies within."""
        shape = cls.__dict__.get("_wire_shape")
        if shape is None:
            properties = {}
            for name, field in cls().fields.items():
                inner = field.child if isinstance(field, serializers.ListField) else field
                properties[name] = type(inner).wire_shape() if isinstance(inner, Body) else None
            shape = wire.Shape(properties, read_only=frozenset(cls.ignored))
            cls._wire_shape = shape
        return shape


class BodyScheme(OpenApiSerializerExtension):
    """Request schemas as Body reads them: the fields and the read-only ones a client may send
    back (other properties are ignored, so none is forbidden), and no separate blank-string
    branch where the field's own pattern already allows ""."""

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


class ConsignlyNewTrackingSerializer(ConsignlyTrackingChangeSerializer):
    """Create a tracking record: name at least one of carrierName, status, trackingNumber and
    trackingUrl."""

    # An empty record would show customers a nameless carrier with nothing to say; an update
    # of nothing is a plain 304, so only a create needs this.
    SAYING = {"carrier_name", "status", "tracking_number", "tracking_url"}

    def validate(self, attrs):
        if not self.SAYING & attrs.keys():
            raise serializers.ValidationError(
                "The body must name at least one of carrierName, status, trackingNumber and "
                "trackingUrl"
            )
        return attrs


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
    postcode = Text(
        max_length=POSTCODE_MAX, allow_null=True, help_text="Optional where none exist."
    )
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


# -- Webhook subscriptions (design section 7.3) ------------------------------------------------
# Consignly's paths with our own body: Consignly's integer eventType names its own platform's
# events, none of which is ours, so it is refused (pointing to eventTypes) rather than ignored,
# which would quietly subscribe the client to everything. Its other properties we do not
# support (signingKey2, clientPartnerId, carrierPartnerId) change nothing a delivery carries,
# so they are ignored like any unknown property and named in X-Ignored-Properties.

EVENT_TYPE_NAMES = [str(t) for t in SUBSCRIBABLE_TYPES]
EVENT_TYPES_HELP = ", ".join(EVENT_TYPE_NAMES)
EVENT_TYPES_MAX = 100  # a bound on the list; services drop repeats
SECRET_MAX = WebhookSubscription._meta.get_field("secret").max_length
SECRET_HELP = (
    f"{WEBHOOK_SECRET_PREFIX} followed by the base64 of {WEBHOOK_SECRET_BYTES[0]} to "
    f"{WEBHOOK_SECRET_BYTES[1]} random bytes"
)


@extend_schema_field(
    {
        "description": "Consignly's integer event type: not supported, refused with 400 "
        "whatever its value; send eventTypes instead."
    }
)
class ConsignlyEventType(serializers.Field):
    """Consignly's `eventType`: refused whatever its value, pointing to eventTypes."""

    rule = f"is not supported; send eventTypes, a list of: {EVENT_TYPES_HELP}"

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def run_validation(self, data=serializers.empty):
        if data is not serializers.empty:
            raise serializers.ValidationError(self.rule)
        return super().run_validation(data)  # absent: skipped


@extend_schema_field({"type": "string", "enum": EVENT_TYPE_NAMES})
class EventTypeName(Text):
    """One event type's name; which names exist is services' rule (SUBSCRIBABLE_TYPES)."""

    default_error_messages = {**Text.default_error_messages, "blank": "must not be blank"}

    def __init__(self, **kwargs):
        super().__init__(max_length=NAME_MAX, allow_blank=False, **kwargs)


class EventTypeList(serializers.ListField):
    default_error_messages = {
        **FIELD_RULES,
        "not_a_list": "must be a list",
        "empty": "must list at least one event type (leave eventTypes out for all of them)",
        "max_length": "must list at most {max_length} event types",
    }


class ConsignlyNewWebhookSubscriptionSerializer(Body):
    webhookUrl = Url(
        source="url",
        required=True,
        help_text="Where deliveries are POSTed: an http:// or https:// URL whose host resolves "
        "to public addresses only (loopback, private and link-local ones are refused).",
    )
    eventTypes = EventTypeList(
        source="event_types",
        child=EventTypeName(),
        required=False,
        allow_null=True,
        allow_empty=False,
        max_length=EVENT_TYPES_MAX,
        help_text=f"Our addition: the types to deliver, of {EVENT_TYPES_HELP} (default: all "
        "of them). A webhook.test is delivered whenever asked for.",
    )
    signingKey1 = Text(
        source="secret",
        max_length=SECRET_MAX,
        allow_null=True,
        help_text=f"Your own signing secret, {SECRET_HELP} (default: one is generated).",
    )
    eventType = ConsignlyEventType()


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


class ConsignlyWebhookSubscriptionSerializer(serializers.Serializer):
    """A webhook subscription as listed: never its secret."""

    webhookSubscriptionId = serializers.UUIDField(source="id")
    webhookUrl = serializers.CharField(source="url")
    eventTypes = serializers.SerializerMethodField(
        help_text="The types delivered (webhook.test is delivered whenever asked for)."
    )
    active = serializers.BooleanField(
        help_text="False once disabled (by staff, a 410 Gone answer or five days of failures); "
        "what happens meanwhile is kept for replay."
    )
    disabledReason = serializers.SerializerMethodField(help_text="Why it was disabled.")
    createdUtc = UtcTime(source="created_utc")

    @extend_schema_field({"type": "array", "items": {"type": "string", "enum": EVENT_TYPE_NAMES}})
    def get_eventTypes(self, subscription) -> list[str]:
        return subscription.subscribed_types

    @extend_schema_field({"type": "string", "nullable": True})
    def get_disabledReason(self, subscription) -> str | None:
        return None if subscription.active else (subscription.disabled_reason or None)


CREATED_WEBHOOK_SUBSCRIPTION = inline_serializer(
    "ConsignlyWebhookSubscriptionCreated",
    {
        "webhookSubscriptionId": serializers.UUIDField(),
        "signingSecret": serializers.CharField(
            help_text="The secret deliveries are signed with (Standard Webhooks): shown in "
            "this answer only."
        ),
    },
)
WEBHOOK_TEST_DELIVERY = inline_serializer(
    "ConsignlyWebhookTestDelivery",
    {
        "deliveryId": serializers.CharField(
            help_text="The delivery's id, sent as its webhook-id header (msg_...)."
        )
    },
)
