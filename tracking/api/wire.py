"""What both wire APIs share: the error handler each wraps in its own envelope, the JSON body
reader and its leniency, the mapping of services' field names to the wire's, and the schema's
headers.

Each API words its own messages and shapes its own envelope; this module decides nothing an
API shows, only how an answer is reached.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

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


def read_json(view, *, limit: int, shape: Shape | None = None):
    """A request's JSON body, read from the stream under `limit` bytes, not Django's.

    request.data would go through HttpRequest.body, whose limit is the forms' setting
    (DATA_UPLOAD_MAX_MEMORY_SIZE) for every API alike; each API names its own here. Raises
    EmptyBody (a ParseError) for an empty body, which an API may read as something else,
    exceptions.ParseError for bad JSON, PayloadTooLarge over `limit` (known from
    Content-Length, before anything is read) and UnsupportedMediaType for another type.

    With a `shape`, a JSON object is read leniently (see `lenient`): the body returned has the
    shape's names only, and the view answers with the names it ignored (LenientBodies)."""
    request = view.request
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) == 0:
        raise EmptyBody()
    if int(length) > limit:
        raise PayloadTooLarge()
    parser = request.negotiator.select_parser(request, request.parsers)
    if parser is None:
        raise exceptions.UnsupportedMediaType(request.content_type)
    body = parser.parse(request.stream, parser.media_type, view.get_parser_context(request))
    if shape is None or type(body) is not dict:
        return body
    reading = view.lenient_reading = lenient(body, shape)
    if reading.ambiguous:
        raise AmbiguousProperties(reading.ambiguous)
    if body and not reading.body:
        raise NoKnownProperty(shape, list(body))
    return reading.body


class EmptyBody(exceptions.ParseError):
    default_detail = "The body is empty."


# -- Leniency like the originals (design section 7.1) ---------------------------------------------
# Both originals are ASP.NET services, whose JSON binding matches property names in any case
# and skips properties it has no use for. Clients written against them send camelCase to the
# PascalCase API and back, and echo read-only properties, so this reads bodies the same way,
# once for both APIs: names are matched in any case, everything else is ignored and named in
# the answer's X-Ignored-Properties header. Two stricter points than ASP.NET's silence: a body
# in which no property is known is refused (it cannot be what the client meant), and so is a
# property sent twice in different cases ("status" and "Status"), where ASP.NET would keep the
# last one and no client can tell which that was.

IGNORED_HEADER = "X-Ignored-Properties"
IGNORED_HEADER_MAX = 1_000  # characters: what a proxy or a client's log keeps comfortably
AMBIGUOUS_MAX = 100  # as many as an API reports problems
# A name goes into the header as sent, these characters as they are and any other (the path's
# own "." and "[", the list's ",", spaces, non-ASCII, control characters) percent-encoded as
# UTF-8, so the header is plain ASCII and a path reads one way only.
NAME_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-$@~:")
# A property named "" is shown as '""' ('"' is always encoded in a name).
TRUNCATED = "..."  # ends a list that was cut short; "." in a name is always encoded


@dataclass(frozen=True, eq=False)
class Shape:
    """The properties an object of a request body may have, by their names on the wire.

    Each property maps to the Shape of its value when that is an object or a list of objects
    (events inside a batch), else None. `read_only` names are known but never read: a client
    may send back what it read, and they are ignored and named like unknown ones."""

    properties: Mapping[str, Shape | None]
    read_only: frozenset[str] = frozenset()
    names: frozenset[str] = field(init=False)
    folded: Mapping[str, str] = field(init=False)
    nested: tuple[tuple[str, Shape], ...] = field(init=False)

    def __post_init__(self):
        set_ = object.__setattr__  # frozen: the derived tables are set once, here
        set_(self, "read_only", frozenset(self.read_only))
        set_(self, "names", frozenset(self.properties))
        set_(self, "folded", {n.lower(): n for n in (*self.properties, *self.read_only)})
        set_(self, "nested", tuple((n, s) for n, s in self.properties.items() if s is not None))


@dataclass(frozen=True, slots=True)
class Ambiguity:
    path: str  # the property's JSON path, in its own name: "Events[0].Code"
    sent: tuple[str, ...]  # the names as sent: ("Code", "code")


@dataclass(slots=True)
class Reading:
    body: dict
    ignored: list[str]  # JSON paths, header-encoded, at most what the header carries
    ignored_count: int = 0
    ambiguous: list[Ambiguity] = field(default_factory=list)
    ambiguous_count: int = 0

    def header(self) -> str | None:
        """The X-Ignored-Properties value ("Events[0].Foo, Bar"), None when nothing was."""
        if not self.ignored_count:
            return None
        names = self.ignored
        if self.ignored_count > len(names):
            names = [*names, TRUNCATED]
        return ", ".join(names)


def _encoded(name: str) -> str:
    if not name:
        return '""'  # a property named "": '"' is always encoded in a name, so this is it
    return "".join(
        c if c in NAME_SAFE else "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
        for c in name
    )


def _path(parts: list) -> str:
    text = ""
    for part in parts:
        if type(part) is int:
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class _Walk:
    """One pass over a parsed body, renaming to the shape's names in place of the client's."""

    def __init__(self):
        self.ignored: list[str] = []
        self.ignored_length = 0
        self.ignored_count = 0
        self.ambiguous: list[Ambiguity] = []
        self.ambiguous_count = 0
        self.parts: list = []  # the JSON path of the object being read, formatted only if needed

    def ignore(self, name: str) -> None:
        self.ignored_count += 1
        if self.ignored_length > IGNORED_HEADER_MAX:
            return  # already full: the count goes on, the text stops
        path = _path([*self.parts, _encoded(name)])
        length = len(path) + 2  # ", "
        if self.ignored_length + length > IGNORED_HEADER_MAX - len(TRUNCATED):
            self.ignored_length = IGNORED_HEADER_MAX + 1
            return
        self.ignored.append(path)
        self.ignored_length += length

    def object(self, obj: dict, shape: Shape) -> dict:
        # The common case costs one set comparison: every name as the shape spells it.
        if not shape.names.issuperset(obj):
            obj = self.renamed(obj, shape)
        for name, inner in shape.nested:
            value = obj.get(name)
            if type(value) is dict:
                self.parts.append(name)
                obj[name] = self.object(value, inner)
                self.parts.pop()
            elif type(value) is list:
                self.parts.append(name)
                self.objects(value, inner)
                self.parts.pop()
        return obj

    def objects(self, items: list, shape: Shape) -> None:
        parts = self.parts
        if shape.nested:
            for index, item in enumerate(items):
                if type(item) is dict:
                    parts.append(index)
                    items[index] = self.object(item, shape)
                    parts.pop()
            return
        # Objects without objects inside (a batch's events): a set comparison each, and a
        # call only for one that needs renaming.
        names = shape.names
        for index, item in enumerate(items):
            if type(item) is dict and not names.issuperset(item):
                parts.append(index)
                items[index] = self.renamed(item, shape)
                parts.pop()

    def renamed(self, obj: dict, shape: Shape) -> dict:
        found: dict = {}
        sent: dict[str, list[str]] = {}
        for key, value in obj.items():
            name = key if key in shape.names else shape.folded.get(key.lower())
            if name is None or name in shape.read_only:
                self.ignore(key)
                continue
            sent.setdefault(name, []).append(key)
            found[name] = value
        for name, keys in sent.items():
            if len(keys) > 1:
                self.ambiguous_count += 1
                if len(self.ambiguous) < AMBIGUOUS_MAX:
                    self.ambiguous.append(Ambiguity(_path([*self.parts, name]), tuple(keys)))
        return found


def lenient(body: dict, shape: Shape) -> Reading:
    """`body` with its properties matched to `shape`'s in any case, and the rest dropped.

    The body is rewritten in place (it is the request's own parse); the Reading lists the JSON
    paths ignored (each name percent-encoded as NAME_SAFE says, at most IGNORED_HEADER_MAX
    characters of them) and the properties named twice in different cases."""
    walk = _Walk()
    found = walk.object(body, shape)
    return Reading(found, walk.ignored, walk.ignored_count, walk.ambiguous, walk.ambiguous_count)


class AmbiguousProperties(exceptions.APIException):
    """A property was sent more than once in different cases: a 400 naming each."""

    status_code = 400
    default_code = "ambiguous"

    def __init__(self, ambiguous: list[Ambiguity]):
        super().__init__(detail="A property was sent more than once in different cases.")
        self.ambiguous = ambiguous


class NoKnownProperty(exceptions.APIException):
    """A body of properties none of which this request reads: a 400 naming them."""

    status_code = 400
    default_code = "no_known_property"

    def __init__(self, shape: Shape, sent: list[str]):
        super().__init__(detail="The body has no property of this request.")
        self.shape = shape
        self.sent = sent  # the body's names as sent, each unknown or read-only

    def read_only(self, name: str) -> bool:
        return self.shape.folded.get(name.lower()) in self.shape.read_only


class LenientBodies:
    """A view mixin: every answer to a body read leniently names what it ignored, errors
    included (a 400 that says "required" of a property the client believes it sent is then
    explained); the header is absent when nothing was ignored."""

    lenient_reading: Reading | None = None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        header = self.lenient_reading.header() if self.lenient_reading is not None else None
        if header is not None:
            response[IGNORED_HEADER] = header
        return response


def ignored_header_parameter(statuses: list[int]) -> OpenApiParameter:
    """The schema's X-Ignored-Properties header on a write's answers."""
    return OpenApiParameter(
        IGNORED_HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=statuses,
        required=False,
        description=(
            "The request body's properties that were ignored, by JSON path "
            "(`packages[1].colour`, `ConsignmentTrackingEvents[0].Comment`), comma-separated; "
            "absent when none "
            "was. Unknown and read-only properties are ignored; names match in any case. "
            "Characters other than ASCII letters, digits and `_-$@~:` in a name are "
            "percent-encoded as UTF-8; a list longer than "
            f"{IGNORED_HEADER_MAX:,} characters ends with `{TRUNCATED}`."
        ),
    )


LENIENCY = (
    "Property names match in any case (`status`, `Status`); properties this operation does "
    "not read are ignored and named in the X-Ignored-Properties header. A body in which no "
    "property is known, or that names one twice in different cases, is refused with 400."
)


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
