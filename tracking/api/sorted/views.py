"""The Sorted PRO-compatible tracking API under /tracking (design section 3): its error
handler and its views.

Reads go through the access door and the Timeline read model, shaped by shapes.py's tables. A
carrier's batch is read and checked by batch.py, every item before any is stored, and then
handed to services.record_events in one call, so a batch is stored all-or-nothing in one
transaction. The OpenAPI text is schema.py's.
"""

from __future__ import annotations

import logging

from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework import exceptions, viewsets
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from tracking import access, services
from tracking.api import wire
from tracking.api.auth import (
    ApiKeyRateThrottle,
    HasCarrierKey,
    HasClientKey,
    SafeJSONParser,
    SubscriptionKeyAuthentication,
)
from tracking.api.sorted import batch
from tracking.api.sorted import schema as docs
from tracking.api.sorted.batch import BATCH_SHAPE, MAX_BODY_BYTES, BatchReader, stored_failure
from tracking.api.sorted.shapes import (
    API_VERSION,
    CORRELATION_HEADER,
    VERSION_HEADER,
    ApiError,
    Problem,
    consignment_json,
    envelope,
    error_response,
    flattened_json,
)
from tracking.models import EventSource
from tracking.timeline import Timeline

logger = logging.getLogger(__name__)


# -- The error envelope -------------------------------------------------------------------------


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
MIB = MAX_BODY_BYTES // (1024 * 1024)


def _lenient_error(exc: exceptions.APIException) -> ApiError | None:
    """wire.read_json's refusals of a body it read leniently, as Sorted's Details."""
    if isinstance(exc, wire.AmbiguousProperties):
        return ApiError(
            400,
            "ValidationFailed",
            "A property was sent more than once in different cases; nothing was stored.",
            [
                Problem(
                    "AmbiguousProperty",
                    found.path,
                    f"{found.path.rpartition('.')[2]} must be sent once, not in several cases "
                    f"({', '.join(found.sent)}).",
                )
                for found in exc.ambiguous
            ],
        )
    if isinstance(exc, wire.NoKnownProperty):
        names = " and ".join(exc.shape.properties)
        return ApiError(
            400,
            "ValidationFailed",
            f"The body has none of a batch's properties ({names}, in any case); "
            "nothing was stored.",
            [
                Problem("UnknownProperty", name, f"{name} is not a property of a batch.")
                for name in exc.sent[: batch.MAX_PROBLEMS]
            ],
        )
    return None


def _as_sorted_error(exc: exceptions.APIException, context: dict) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    lenient = _lenient_error(exc)
    if lenient is not None:
        return lenient
    if isinstance(exc, wire.ServiceRefusal):
        return stored_failure(exc.error)
    if isinstance(exc, wire.EmptyBody):
        return ApiError(400, "MalformedJson", "The body is empty: send the batch as JSON.")
    if isinstance(exc, wire.PayloadTooLarge):
        return ApiError(413, "PayloadTooLarge", f"The body is over {MIB} MiB: split the batch.")
    code = next((c for kind, c in DRF_ERROR_CODES if isinstance(exc, kind)), None)
    code = code or "".join(part.title() for part in str(exc.default_code).split("_"))
    message = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
    if isinstance(exc, exceptions.MethodNotAllowed):
        message = f"{context['request'].method} is not allowed here."
    return ApiError(exc.status_code, code, str(message))


def _envelope(response: Response, exc, raised, context: dict) -> Response:
    error = _as_sorted_error(exc, context)
    response.data = envelope(error.code, str(error.message), error.details)
    response.status_code = error.status_code
    response[CORRELATION_HEADER] = response.data["CorrelationId"]
    request = context.get("request")
    if request is not None:
        logger.info(
            "Sorted API %s %s -> %s %s, correlation id %s",
            request.method,
            request.path,
            error.status_code,
            error.code,
            response.data["CorrelationId"],
        )
    return response


def handle_exception(exc: Exception, context: dict) -> Response | None:
    """Every 4xx of these views in the Sorted envelope; anything else is a bug, answered 500
    in the envelope by the site's handler. The /v1 API has its own, so this is set per view."""
    return wire.handle_exception(exc, context, envelope=_envelope)


# -- HTTP plumbing ------------------------------------------------------------------------------


class AlwaysJson(DefaultContentNegotiation):
    """Answers are JSON whatever Accept says. Sorted also speaks XML; we don't, and answering
    JSON (Sorted's own default) serves clients that list XML first better than a 406 would."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class SortedViewSet(wire.LenientBodies, viewsets.ViewSet):
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


# -- Views --------------------------------------------------------------------------------------


def render_json(data) -> bytes:
    return JSONRenderer().render(data)


def consignment_not_found(reference: str) -> ApiError:
    # The same answer for "no such consignment" and "another brand's", as the access door rules.
    canonical = access.normalise_reference(reference)
    message = (
        f"Consignment {canonical} not found."
        if canonical
        else "Consignment not found: references look like EC-XXX-XXX-XXX."
    )
    return ApiError(404, "ConsignmentNotFound", message)


class ConsignmentTrackingViewSet(SortedViewSet):
    """The two reads, for client keys: their brand's consignments only."""

    permission_classes = [HasClientKey]
    http_method_names = ["get", "head"]

    @docs.GET_TRACKING
    def retrieve(self, request, consignmentReference: str):
        timeline = self.timeline(consignmentReference)
        return wire.rendered(
            timeline.cached("sorted", lambda: render_json(consignment_json(timeline)))
        )

    @docs.GET_FLATTENED
    def flattened(self, request, consignmentReference: str):
        timeline = self.timeline(consignmentReference)
        return wire.rendered(
            timeline.cached("sorted-flattened", lambda: render_json(flattened_json(timeline)))
        )

    def timeline(self, reference: str) -> Timeline:
        try:
            return access.timeline_for_key(self.request.auth, reference=reference)
        except access.NotFound:
            raise consignment_not_found(reference) from None


class CarrierEventsViewSet(SortedViewSet):
    """A carrier pushes its scans in batches."""

    permission_classes = [HasCarrierKey]
    http_method_names = ["post"]

    @docs.POST_EVENTS
    def create(self, request):
        body = wire.read_json(self, limit=MAX_BODY_BYTES, shape=BATCH_SHAPE)
        specs = BatchReader(request.auth, now=timezone.now()).read(body)
        # A refusal by services is answered by the envelope (batch.stored_failure).
        services.record_events(events=specs, source=EventSource.SORTED)
        # Sorted documents "no response body", so there is no Content-Type either.
        response = HttpResponse(status=200)
        del response["Content-Type"]
        return response


class CarrierTrackingEventsViewSet(CarrierEventsViewSet):
    """The same endpoint at the path Sorted.PRO.SDK's TrackingService posts to."""

    @docs.POST_EVENTS_SDK_PATH
    def create(self, request):
        return super().create(request)
