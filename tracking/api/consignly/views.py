"""The Consignly-compatible tracking API under /v1: its error envelope, paging and views
(consignments, their tracking records, and the brand's webhook subscriptions).

Shapes follow specs/consignly-tracking.txt (fields.py); reads go through access.py and the
Timeline, writes through tracking.services; the OpenAPI text is schema.py's.
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
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.http import JsonResponse
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.filters import BaseFilterBackend
from rest_framework.pagination import BasePagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from tracking import access, ratelimit, services
from tracking import status as rules
from tracking.api import wire
from tracking.api.auth import (
    ApiKeyRateThrottle,
    BearerKeyAuthentication,
    HasClientKey,
    SafeJSONParser,
)
from tracking.api.consignly import schema as docs
from tracking.api.consignly.fields import (
    BODY_MAX,
    ConsignlyConsignmentDetailSerializer,
    ConsignlyConsignmentSerializer,
    ConsignlyEventSerializer,
    ConsignlyNewConsignmentSerializer,
    ConsignlyNewTrackingSerializer,
    ConsignlyNewWebhookSubscriptionSerializer,
    ConsignlyTrackingChangeSerializer,
    ConsignlyTrackingDetailSerializer,
    ConsignlyTrackingSerializer,
    ConsignlyWebhookSubscriptionSerializer,
)
from tracking.models import Consignment, EventSource, TrackingRecord, WebhookSubscription
from tracking.services import PackageSpec

SOURCE = EventSource.CONSIGNLY
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 25, 500
PAGE_INDEX_MAX = 2**31 - 1  # Consignly documents PageIndex as int32
SEARCH_MAX = 200

# tracking.services names fields as the models do; errors must name them as the wire does.
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


def _lenient_messages(exc: exceptions.APIException) -> list[str] | None:
    """wire.read_json's refusals of a body it read leniently, worded as /v1 words rules."""
    if isinstance(exc, wire.AmbiguousProperties):
        return [
            f"{found.path} must be sent once, not in several cases ({', '.join(found.sent)})."
            for found in exc.ambiguous
        ]
    if isinstance(exc, wire.NoKnownProperty):
        fields = ", ".join(exc.shape.properties)
        return [
            f"{name} is read-only and ignored; send one of this request's fields "
            f"(fields: {fields})."
            if exc.read_only(name)
            else f"{name} is not a field of this request (fields: {fields})."
            for name in exc.sent
        ]
    return None


def _error_messages(exc: exceptions.APIException, raised: Exception) -> list[str]:
    lenient = _lenient_messages(exc)
    if lenient is not None:
        return lenient
    if isinstance(exc, wire.ServiceRefusal):
        found = wire.field_errors(exc.error, WIRE_NAMES, paths=False)
        return [_sentence(name, message) for _prefix, name, message in found]
    if isinstance(raised, DjangoPermissionDenied):
        return ["You may not do this."]
    if isinstance(exc, exceptions.ParseError):
        reason = str(exc.detail).removeprefix("JSON parse error - ")
        return [f"The request body is not valid JSON ({reason})."]
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return ["Request bodies must be sent as application/json."]
    if isinstance(exc, ReferenceLookupsThrottled):
        return [
            f"Too many references that cannot be used; retry in {math.ceil(exc.wait or 1)} "
            "seconds, or leave references out to have them generated."
        ]
    if isinstance(exc, exceptions.Throttled):
        wait = math.ceil(exc.wait or 1)
        return [f"Too many requests for this API key; retry in {wait} seconds."]
    return _messages(exc.detail)


def _envelope(response, exc, raised, context) -> Response:
    status = response.status_code
    error_type = ERROR_TYPES.get(status) or http.HTTPStatus(status).phrase
    response.data = {"ErrorType": error_type, "ErrorMessages": _error_messages(exc, raised)}
    return response


def handle_exception(exc, context) -> Response | None:
    """Every 4xx of /v1 in Consignly's envelope; anything else is a bug and becomes a 500."""
    return wire.handle_exception(exc, context, envelope=_envelope)


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


class WebhookSubscriptionPage(Page):
    items_key = "webhookSubscriptions"


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


def _found(what: str, load, *args, **kwargs):
    """Load through access.py; missing and foreign answer alike."""
    try:
        return load(*args, **kwargs)
    except access.NotFound:
        raise exceptions.NotFound(f"{what} not found.") from None


def _read(view, serializer_class) -> dict:
    """The validated body, read by the shared reader (wire.read_json), which matches names in
    any case and ignores what the serializer has no field for. A body without a Content-Type
    is refused rather than ignored; an empty one is an empty object, so the answer names the
    fields it lacks."""
    request = view.request
    if not request.content_type and request.stream is not None:
        raise exceptions.UnsupportedMediaType("")
    try:
        data = wire.read_json(view, limit=BODY_MAX, shape=serializer_class.wire_shape())
    except wire.EmptyBody:
        data = {}
    if not isinstance(data, dict):
        raise serializers.ValidationError(["The request body must be a JSON object."])
    serializer = serializer_class(data=data)
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


class ConsignlyViewSet(wire.LenientBodies, viewsets.GenericViewSet):
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


@docs.tracking
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
        body = _read(self, ConsignlyNewTrackingSerializer)
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

        return wire.rendered(timeline.cached(f"consignly-leg:{leg_id}", body))

    def update(self, request, *args, **kwargs):
        leg = self._leg()
        changed = services.update_leg(
            leg=leg, source=SOURCE, **_read(self, ConsignlyTrackingChangeSerializer)
        )
        return Response(status=200 if changed else 304)

    @action(detail=True, methods=["post"], url_path="event", url_name="event")
    def event(self, request, *args, **kwargs):
        leg = self._leg()
        body = _read(self, ConsignlyEventSerializer)
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


@docs.consignments
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
        body = _read(self, ConsignlyNewConsignmentSerializer)
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
        return wire.rendered(
            timeline.cached(
                f"consignly:{request.scheme}://{request.get_host()}",
                lambda: JSONRenderer().render(
                    ConsignlyConsignmentDetailSerializer(
                        timeline, context={"request": request}
                    ).data
                ),
            )
        )


@docs.webhook_subscriptions
class WebhookSubscriptionViewSet(mixins.ListModelMixin, ConsignlyViewSet):
    """/v1/webhook-subscriptions, .../create, .../{webhookSubscriptionId}/test and .../delete
    (Consignly's paths, our own bodies: design section 7.3)."""

    serializer_class = ConsignlyWebhookSubscriptionSerializer
    pagination_class = WebhookSubscriptionPage
    filter_backends = []  # paged, not searched
    lookup_url_kwarg = "webhookSubscriptionId"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookSubscription.objects.none()
        return access.subscriptions_for_key(self.request.auth).order_by("created_utc", "id")

    def _subscription(self) -> WebhookSubscription:
        return _found(
            "Webhook subscription",
            access.subscription_for_key,
            self.request.auth,
            self.kwargs["webhookSubscriptionId"],
        )

    # Named apart from create and destroy, which the router would also route to the list's
    # POST and the item's DELETE; Consignly's paths name the verb.
    @action(detail=False, methods=["post"], url_path="create", url_name="create")
    def subscribe(self, request, *args, **kwargs):
        body = _read(self, ConsignlyNewWebhookSubscriptionSerializer)
        subscription, secret = services.create_subscription(
            brand=request.auth.brand,
            url=body["url"],
            event_types=body.get("event_types"),
            secret=body.get("secret"),
        )
        return Response({"webhookSubscriptionId": str(subscription.pk), "signingSecret": secret})

    @action(detail=True, methods=["put"], url_path="test", url_name="test")
    def send_test(self, request, *args, **kwargs):
        try:
            message = services.send_test(self._subscription())
        except WebhookSubscription.DoesNotExist:  # deleted by another request meanwhile
            raise exceptions.NotFound("Webhook subscription not found.") from None
        return Response({"deliveryId": message.pk})

    @action(detail=True, methods=["delete"], url_path="delete", url_name="delete")
    def unsubscribe(self, request, *args, **kwargs):
        services.delete_subscription(self._subscription())
        return Response(status=200)
