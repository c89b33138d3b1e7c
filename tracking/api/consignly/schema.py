"""The /v1 API's OpenAPI documentation: what each operation answers, its examples, parameters
and error bodies. views.py applies these to its viewsets; nothing here runs on a request.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers

from tracking.api import wire
from tracking.api.consignly.fields import (
    BODY_MAX,
    CREATED_CONSIGNMENT,
    CREATED_TRACKING,
    CREATED_WEBHOOK_SUBSCRIPTION,
    EVENT_TYPES_HELP,
    SECRET_HELP,
    WEBHOOK_TEST_DELIVERY,
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

TAG = "Consignly tracking (/v1)"
WEBHOOK_TAG = "Consignly webhook subscriptions (/v1)"


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
    413: _error(f"The body is larger than the server accepts ({BODY_MAX / 1024 / 1024:g} MB)."),
    415: _error("The body was not sent as application/json."),
}
NOT_MODIFIED = OpenApiResponse(description="Not modified: nothing changed, nothing stored.")
HEADERS = wire.key_header_parameters(challenge='`Bearer realm="api"`')
# What a write's answers add: the body's properties it ignored.
WRITE_HEADERS = [*HEADERS, wire.ignored_header_parameter([200, 400])]
UPDATE_HEADERS = [*HEADERS, wire.ignored_header_parameter([200, 304, 400])]


def _path(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        OpenApiTypes.UUID,
        OpenApiParameter.PATH,
        description=f"{description} Any case; a value that is not a UUID is answered with 404.",
    )


CONSIGNMENT_ID = _path("consignmentId", "The consignment ID.")
TRACKING_ID = _path("consignmentTrackingId", "The tracking record ID.")


TRACKING = extend_schema_view(
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
        description="A status above 0 also appends an event with that status, occurring now "
        "(its details are null). integrationName is the name of the API key used. The body "
        "must name at least one of carrierName, status, trackingNumber and trackingUrl. "
        f"{wire.LENIENCY}",
        parameters=[CONSIGNMENT_ID, *WRITE_HEADERS],
        request=ConsignlyNewTrackingSerializer,
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
        description="Absent keys are unchanged and null clears; `{}` changes nothing (304). A "
        "new status appends an event. Read-only keys (id, integrationName, createdUtc, "
        "modifiedUtc, lastUpdatedDate, trackingEvents) are ignored, so a record read with GET "
        f"can be sent back. {wire.LENIENCY}",
        parameters=[CONSIGNMENT_ID, TRACKING_ID, *UPDATE_HEADERS],
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
        "place in the timeline and never moves the status backwards. An event without details "
        f"reads back with details null. {wire.LENIENCY}",
        parameters=[CONSIGNMENT_ID, TRACKING_ID, *UPDATE_HEADERS],
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


CONSIGNMENTS = extend_schema_view(
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
        "with 400, and each such refusal counts against your brand's lookup allowance. "
        f"{wire.LENIENCY}",
        parameters=WRITE_HEADERS,
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


def tracking(viewset):
    """The tracking records' viewset, documented."""
    return TRACKING(extend_schema(tags=[TAG])(viewset))


def consignments(viewset):
    """The consignments' viewset, documented."""
    return CONSIGNMENTS(extend_schema(tags=[TAG])(viewset))


SUBSCRIPTION_ID = _path("webhookSubscriptionId", "The webhook subscription ID.")
SUBSCRIPTION_ERRORS = {
    **KEY_ERRORS,
    404: _error("No such webhook subscription for this key's brand (a malformed id is a 404 too)."),
}
DELIVERIES = (
    "Each delivery is a POST of `{type, timestamp, data}` signed as Standard Webhooks sign "
    "(`webhook-id`, `webhook-timestamp`, `webhook-signature` headers), retried on failure "
    "for about three days; Consignly's `x-consignly-signature-*` headers are not sent."
)

WEBHOOK_SUBSCRIPTIONS = extend_schema_view(
    list=extend_schema(
        operation_id="consignly_webhook_subscriptions_list",
        summary="Get webhook subscriptions",
        description="The key's brand's webhook subscriptions, oldest first (createdUtc, then "
        "id). Their signing secrets are never shown again.",
        parameters=HEADERS,
        responses={
            200: ConsignlyWebhookSubscriptionSerializer(many=True),
            **BAD_INPUT,
            **KEY_ERRORS,
        },
        examples=[
            OpenApiExample(
                "A subscription",
                response_only=True,
                value={
                    "webhookSubscriptionId": "3f0e7a52-5b8c-4a49-9d0e-2f1c6a7b8e90",
                    "webhookUrl": "https://shop.example.com/hooks/tracking",
                    "eventTypes": ["tracking.updated", "consignment.status_changed"],
                    "active": True,
                    "disabledReason": None,
                    "createdUtc": "2026-03-09T08:00:00Z",
                },
            )
        ],
    ),
    subscribe=extend_schema(
        operation_id="consignly_webhook_subscriptions_create",
        summary="Create webhook subscription",
        description="Consignly's path with our own body. The signing secret (generated, or "
        "your own `signingKey1`) is in this answer and never shown again. `eventTypes` lists "
        f"the types to deliver, of {EVENT_TYPES_HELP} (default: all). Consignly's integer "
        "`eventType` is refused with 400; its `signingKey2`, `clientPartnerId` and "
        "`carrierPartnerId` are ignored (and named in X-Ignored-Properties). "
        f"`signingKey1`, when sent, must be {SECRET_HELP}. {DELIVERIES} {wire.LENIENCY}",
        parameters=WRITE_HEADERS,
        request=ConsignlyNewWebhookSubscriptionSerializer,
        responses={200: CREATED_WEBHOOK_SUBSCRIPTION, **BAD_BODY, **KEY_ERRORS},
        examples=[
            OpenApiExample(
                "Status changes only",
                request_only=True,
                value={
                    "webhookUrl": "https://shop.example.com/hooks/tracking",
                    "eventTypes": ["consignment.status_changed"],
                },
            )
        ],
    ),
    send_test=extend_schema(
        operation_id="consignly_webhook_subscriptions_test",
        summary="Send a test delivery",
        description="Queues a `webhook.test` delivery to the subscription, whatever types it "
        "asked for (held until it is enabled again when it is disabled). The answer names the "
        "delivery, whose id is the `webhook-id` header it is sent with. No body is read.",
        parameters=[SUBSCRIPTION_ID, *HEADERS],
        request=None,
        responses={200: WEBHOOK_TEST_DELIVERY, **SUBSCRIPTION_ERRORS},
    ),
    unsubscribe=extend_schema(
        operation_id="consignly_webhook_subscriptions_delete",
        summary="Delete webhook subscription",
        description="The subscription and its delivery log; deliveries not yet made are dropped.",
        parameters=[SUBSCRIPTION_ID, *HEADERS],
        request=None,
        responses={
            200: OpenApiResponse(description="Webhook subscription deleted; empty body."),
            **SUBSCRIPTION_ERRORS,
        },
    ),
)


def webhook_subscriptions(viewset):
    """The webhook subscriptions' viewset, documented."""
    return WEBHOOK_SUBSCRIPTIONS(extend_schema(tags=[WEBHOOK_TAG])(viewset))
