"""What both wire APIs share: API-key authentication, the permissions that split the key
roles, the per-key throttle, and a JSON parser that cannot be made to crash.

Consignly clients send `Authorization: Bearer <key>`; Sorted clients and carriers send
`ocp-apim-subscription-key: <key>` (Bearer is accepted there too). A key is looked up by the
hash of its secret, so authentication is one indexed query, and none on PostgreSQL for a key
the worker has seen since its last change (tracking.db.changes).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission

from tracking.db import changes
from tracking.db.prepared import PreparedQuery, rows_as
from tracking.models import ApiKey, Brand, Carrier

# last_used is advisory: writing it at most once a minute keeps reads free of writes.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)
LAST_WRITTEN_CAPACITY = 10_000  # keys whose last_used this worker remembers writing


class KeyUser:
    """What request.user is for an API call: the key's holder, never a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, key: ApiKey):
        self.key = key

    def __str__(self) -> str:
        return f"api key {self.key.prefix}"


_KEY_FIELDS = [f.attname for f in ApiKey._meta.concrete_fields]
_BRAND_FIELDS = [f.attname for f in Brand._meta.concrete_fields]
_CARRIER_FIELDS = [f.attname for f in Carrier._meta.concrete_fields]
# Every API request starts here, so the lookup is compiled once (tracking.db.prepared).
_USABLE_KEY = PreparedQuery(
    lambda hashed, now: (
        ApiKey.objects.usable(now)
        .filter(hashed_secret=hashed)
        .values_list(
            *_KEY_FIELDS,
            *(f"brand__{name}" for name in _BRAND_FIELDS),
            *(f"carrier__{name}" for name in _CARRIER_FIELDS),
        )
    ),
    hashed=ApiKey._meta.get_field("hashed_secret"),
    now=ApiKey._meta.get_field("expires_at"),
)


def _usable_key(hashed: str, now: dt.datetime, memo: changes.Memo | None) -> ApiKey | None:
    """The usable key with this hashed secret. Where changes can be heard (memo), each worker
    remembers the key's row until PostgreSQL announces a change to the key, to a brand or to a
    carrier (tracking.db.changes), so a known key costs no query; expiry is checked here, since
    no change announces it."""

    def load() -> list[tuple]:
        return _USABLE_KEY.rows(hashed=hashed, now=now)

    rows = load() if memo is None else memo.get(changes.KEY + hashed, load)
    if not rows:
        return None
    rows = rows[:1]
    k, b = len(_KEY_FIELDS), len(_BRAND_FIELDS)
    [key] = rows_as(ApiKey, _KEY_FIELDS, rows)
    [brand] = rows_as(Brand, _BRAND_FIELDS, rows, start=k)
    [carrier] = rows_as(Carrier, _CARRIER_FIELDS, rows, start=k + b)
    key.brand = brand if key.brand_id else None
    key.carrier = carrier if key.carrier_id else None
    if key.expires_at is not None and key.expires_at <= now:
        return None  # remembered while it was usable
    return key


def authenticate_secret(secret: str) -> ApiKey:
    """The usable key with this secret; AuthenticationFailed otherwise."""
    if not secret or len(secret) > 200:
        raise exceptions.AuthenticationFailed("The API key is not valid.")
    now, hashed, memo = timezone.now(), ApiKey.hash(secret), changes.memo()
    key = _usable_key(hashed, now, memo)
    if key is None:
        raise exceptions.AuthenticationFailed("The API key is not valid.")
    _note_use(key, hashed, now, remembered=memo is not None)
    return key


# hashed secret -> the last_used this worker wrote, for keys it may remember from before
_last_written: dict[str, dt.datetime] = {}


def _note_use(key: ApiKey, hashed: str, now: dt.datetime, *, remembered: bool) -> None:
    """Write last_used when it is more than LAST_USED_RESOLUTION old, at most once per key and
    window whichever worker asks (the UPDATE checks the stored value). A remembered row keeps
    the last_used it was loaded with, so this worker's own latest write is consulted too."""
    last = key.last_used
    written = _last_written.get(hashed) if remembered else None
    if written is not None and (last is None or written > last):
        last = written
    if last is not None and now - last <= LAST_USED_RESOLUTION:
        return
    stale = Q(last_used__isnull=True) | Q(last_used__lt=now - LAST_USED_RESOLUTION)
    ApiKey.objects.filter(stale, pk=key.pk).update(last_used=now)
    key.last_used = now
    if remembered:
        if len(_last_written) >= LAST_WRITTEN_CAPACITY:
            _last_written.clear()
        _last_written[hashed] = now


def _bearer(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


QUERY_KEY = "subscription-key"  # the Sorted key as a query parameter


class BearerKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>` (the Consignly API)."""

    def authenticate(self, request):
        secret = _bearer(request)
        if secret is None:
            return None
        key = authenticate_secret(secret)
        return KeyUser(key), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class SubscriptionKeyAuthentication(BaseAuthentication):
    """`ocp-apim-subscription-key: <key>`, `Authorization: Bearer <key>`, or the query parameter
    `subscription-key`, which Azure API Management (in front of Sorted's API) also accepts
    (design section 7.1). The access log records paths without their query strings."""

    def authenticate(self, request):
        secret = (
            request.META.get("HTTP_OCP_APIM_SUBSCRIPTION_KEY", "").strip()
            or _bearer(request)
            or request.query_params.get(QUERY_KEY, "").strip()
        )
        if not secret:
            return None
        key = authenticate_secret(secret)
        return KeyUser(key), key

    def authenticate_header(self, request) -> str:
        return 'ApiKey header="ocp-apim-subscription-key"'


class HasClientKey(BasePermission):
    message = "This endpoint needs a client key (one issued for a brand)."

    def has_permission(self, request, view) -> bool:
        if request.auth is None:
            raise exceptions.NotAuthenticated("An API key is required.")
        return request.auth.is_client


class HasCarrierKey(BasePermission):
    message = "This endpoint needs a carrier key (one issued for a carrier)."

    def has_permission(self, request, view) -> bool:
        if request.auth is None:
            raise exceptions.NotAuthenticated("An API key is required.")
        return request.auth.is_carrier


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = BearerKeyAuthentication
    name = "bearerKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A client key issued with `manage.py createapikey NAME --brand SLUG`.",
        }


class SubscriptionKeyScheme(OpenApiAuthenticationExtension):
    target_class = SubscriptionKeyAuthentication
    name = ["subscriptionKey", "subscriptionKeyQuery"]

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.name]  # either one, not both

    def get_security_definition(self, auto_schema):
        who = "A client key (reads) or a carrier key (POST /tracking/carrierevents)"
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "ocp-apim-subscription-key",
                "description": f"{who}.",
            },
            {
                "type": "apiKey",
                "in": "query",
                "name": QUERY_KEY,
                "description": f"{who}, as Azure API Management accepts it: prefer the header, "
                "since proxies and browsers may record URLs.",
            },
        ]


class ApiKeyRateThrottle:
    """RATE_LIMIT_API requests per key per window, counted in Redis or the database so every
    worker shares one allowance. Over the limit, DRF answers 429 with Retry-After."""

    scope = "api"

    def __init__(self):
        self.decision = None

    def allow_request(self, request, view) -> bool:
        from django.conf import settings

        from tracking import ratelimit

        if request.auth is None:
            return True
        self.decision = ratelimit.hit(self.scope, str(request.auth.pk), settings.RATE_LIMIT_API)
        return self.decision.allowed

    def wait(self) -> int | None:
        return self.decision.retry_after if self.decision else None


class SafeJSONParser(JSONParser):
    """JSON nested deeper than Python's recursion limit is malformed input, not a server error."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
