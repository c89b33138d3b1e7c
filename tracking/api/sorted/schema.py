"""The Sorted API's OpenAPI documentation: each operation's text, parameters, errors and example.

The answers' components are made from shapes.py's tables; the batch's request component is
documentation of what batch.py reads, with its limits from tracking.fields and batch.py.
views.py applies these; nothing here runs on a request.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from tracking import fields as value_rules
from tracking import status as rules
from tracking.api import wire
from tracking.api.sorted.batch import (
    CARRIER_REFERENCE,
    EVENT_TEXTS,
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    PACKAGE_REFERENCE,
    TRACKING_REFERENCE,
    TextKey,
)
from tracking.api.sorted.shapes import (
    API_VERSION,
    CORRELATION_HEADER,
    VERSION_HEADER,
    SortedApiErrorSerializer,
    SortedFlattenedConsignmentSerializer,
    SortedTrackedConsignmentSerializer,
)

TAG = "Sorted PRO tracking (/tracking)"


# -- The batch's request, as batch.py reads it --------------------------------------------------


def _text(key: TextKey) -> serializers.CharField:
    if key.required:
        return serializers.CharField(allow_blank=True, max_length=key.limit, help_text=key.help)
    return serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=key.limit, help_text=key.help
    )


def _reference(key: TextKey) -> serializers.CharField:
    return serializers.CharField(min_length=1, max_length=key.limit, help_text=key.help)


def _component(name: str, fields: dict) -> type[serializers.Serializer]:
    return type(name, (serializers.Serializer,), fields)


SortedCarrierEventSerializer = _component(
    "SortedCarrierEventSerializer",
    {
        "TimeStamp": serializers.DateTimeField(
            help_text="ISO-8601 with an offset (up to 7 fractional digits); "
            f"{value_rules.event_window_text()}."
        ),
        "Code": serializers.CharField(
            min_length=1,
            max_length=rules.CODE_MAX_LENGTH,
            help_text="e.g. DELIVERED or 'Out for delivery' (normalised to OUT_FOR_DELIVERY). "
            "Unknown codes are stored and shown but change no status.",
        ),
        **{key.name: _text(key) for key in EVENT_TEXTS},
    },
)
SortedPackageTrackingEventsSerializer = _component(
    "SortedPackageTrackingEventsSerializer",
    {
        PACKAGE_REFERENCE.name: _reference(PACKAGE_REFERENCE),
        "TrackingEvents": SortedCarrierEventSerializer(many=True),
    },
)
SortedConsignmentTrackingEventsSerializer = _component(
    "SortedConsignmentTrackingEventsSerializer",
    {
        TRACKING_REFERENCE.name: _reference(TRACKING_REFERENCE),
        "PackageTrackingEvents": SortedPackageTrackingEventsSerializer(many=True),
    },
)
SortedCarrierEventsSerializer = _component(
    "SortedCarrierEventsSerializer",
    {
        CARRIER_REFERENCE.name: _reference(CARRIER_REFERENCE),
        "ConsignmentTrackingEvents": SortedConsignmentTrackingEventsSerializer(
            many=True, help_text=f"At most {MAX_BATCH_EVENTS} TrackingEvents in all."
        ),
    },
)


# -- Errors and headers -------------------------------------------------------------------------


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
    *wire.key_header_parameters(),
]
POST_HEADER_PARAMETERS = [*HEADER_PARAMETERS, wire.ignored_header_parameter([200, 400])]
REFERENCE_PARAMETER = OpenApiParameter(
    "consignmentReference",
    str,
    OpenApiParameter.PATH,
    description="The consignment's reference, EC-XXX-XXX-XXX (any case).",
)


# -- The operations -----------------------------------------------------------------------------


POST_EVENTS_DESCRIPTION = (
    "For carrier keys. The whole batch is checked before anything is stored: any problem "
    "answers 400 with one Details entry per problem (the first 100), each naming its field by "
    "JSON path, and stores nothing. A valid batch is stored in one transaction; events already "
    "stored (same leg, package, Code, TimeStamp and Description) are skipped, so retries are "
    "safe. Success is 200 with an empty body. Tracking numbers (ConsignmentTrackingReference), "
    "package references and CarrierReference match in any case. " + wire.LENIENCY
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


GET_TRACKING = extend_schema(
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
GET_FLATTENED = extend_schema(
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
POST_EVENTS = extend_schema(
    operation_id="PostTrackingEvents",
    summary="Post a carrier's tracking events",
    description=POST_EVENTS_DESCRIPTION,
    tags=[TAG],
    parameters=POST_HEADER_PARAMETERS,
    request=SortedCarrierEventsSerializer,
    responses=POST_EVENTS_RESPONSES,
    examples=[POST_EVENTS_EXAMPLE],
)
POST_EVENTS_SDK_PATH = extend_schema(
    operation_id="PostTrackingEventsSdkPath",
    summary="Post a carrier's tracking events (Sorted.PRO.SDK's path)",
    description="The same as POST /tracking/carrierevents, at the path Sorted's C# SDK "
    "(Sorted.PRO.SDK TrackingService) uses, so carriers on that SDK work unchanged. "
    + wire.LENIENCY,
    tags=[TAG],
    parameters=POST_HEADER_PARAMETERS,
    request=SortedCarrierEventsSerializer,
    responses=POST_EVENTS_RESPONSES,
    examples=[POST_EVENTS_EXAMPLE],
)
