"""What both wire APIs share: the error handler each wraps in its own envelope, the JSON body
reader, the mapping of services' field names to the wire's, and the schema's key headers.

Each API words its own messages and shapes its own envelope; this module decides nothing an
API shows, only how an answer is reached.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tracking import access


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class ServiceRefusal(exceptions.APIException):
    """services refused a value (a Django ValidationError keyed by its field names): a 400."""

    status_code = 400
    default_code = "invalid"

    def __init__(self, error: DjangoValidationError):
        super().__init__(detail="The request was refused.")
        self.error = error


def as_api_exception(exc: Exception) -> exceptions.APIException | None:
    """The DRF exception an answer is made from; None for a bug (the site's 500 answers)."""
    if isinstance(exc, Http404 | access.NotFound):
        return exceptions.NotFound()  # missing and foreign read alike
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, DjangoValidationError):
        return ServiceRefusal(exc)
    return exc if isinstance(exc, exceptions.APIException) else None


# An API's envelope: (the DRF answer so far, the DRF exception, the exception raised, DRF's
# context) -> the answer to send, its body in the API's shape.
Envelope = Callable[[Response, exceptions.APIException, Exception, dict], Response]


def handle_exception(exc: Exception, context: dict, *, envelope: Envelope) -> Response | None:
    """DRF's exception handler, then the API's envelope around its answer.

    DRF's handler sets what every answer needs (WWW-Authenticate, Retry-After, rolling back
    the request's atomic block); Retry-After is rounded up here, since DRF truncates it and a
    client retrying at the truncated second would be refused again."""
    api_exc = as_api_exception(exc)
    if api_exc is None:
        return None
    response = drf_exception_handler(api_exc, context)
    if response is None:
        return None
    if getattr(api_exc, "wait", None):
        response["Retry-After"] = str(math.ceil(api_exc.wait))
    return envelope(response, api_exc, exc, context)


def field_errors(error: DjangoValidationError, names: Mapping[str, str], *, paths: bool):
    """services' ValidationError as (prefix, wire name, message) triples.

    With `paths`, a key is a path prefix (an EventSpec's field_prefix, "....TrackingEvents[0].")
    and services' name for the field; without, the whole key is the name. `names` translates
    services' names to the wire's (one not in it is kept as it is); "__all__" (no field) is ""."""
    if not hasattr(error, "error_dict"):
        return [("", "", message) for message in error.messages]
    found = []
    for key, messages in error.message_dict.items():
        prefix, _dot, name = key.rpartition(".") if paths else ("", "", key)
        name = "" if name == "__all__" else names.get(name, name)
        found.extend((prefix, name, message) for message in messages)
    return found


def read_json(view, *, limit: int):
    """A request's JSON body, read from the stream under `limit` bytes, not Django's.

    request.data would go through HttpRequest.body, whose limit is the forms' setting
    (DATA_UPLOAD_MAX_MEMORY_SIZE) for every API alike; each API names its own here. Raises
    EmptyBody (a ParseError) for an empty body, which an API may read as something else,
    exceptions.ParseError for bad JSON, PayloadTooLarge over `limit` (known from
    Content-Length, before anything is read) and UnsupportedMediaType for another type."""
    request = view.request
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) == 0:
        raise EmptyBody()
    if int(length) > limit:
        raise PayloadTooLarge()
    parser = request.negotiator.select_parser(request, request.parsers)
    if parser is None:
        raise exceptions.UnsupportedMediaType(request.content_type)
    return parser.parse(request.stream, parser.media_type, view.get_parser_context(request))


class EmptyBody(exceptions.ParseError):
    default_detail = "The body is empty."


def rendered(body: bytes) -> HttpResponse:
    """A body already rendered (and kept per timeline version): sent as it is."""
    return HttpResponse(body, content_type="application/json")


def key_header_parameters(*, challenge: str | None = None) -> list[OpenApiParameter]:
    """The schema's headers of a key's refusals: Retry-After on 429, WWW-Authenticate on 401."""
    return [
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
            description=challenge or "",
        ),
    ]
