"""What both wire APIs share: API-key authentication, the permissions that split the key
roles, the per-key throttle, and a JSON parser that cannot be made to crash.

Consignly clients send `Authorization: Bearer <key>`; Sorted clients and carriers send
`ocp-apim-subscription-key: <key>` (Bearer is accepted there too). A key is looked up by the
hash of its secret, so authentication is one indexed query.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission

from tracking.db.prepared import PreparedQuery, rows_as
from tracking.models import ApiKey, Brand, Carrier

# last_used is advisory: writing it at most once a minute keeps reads free of writes.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


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


def _usable_key(hashed: str, now: dt.datetime) -> ApiKey | None:
    rows = _USABLE_KEY.rows(hashed=hashed, now=now)
    if not rows:
        return None
    rows = rows[:1]
    k, b = len(_KEY_FIELDS), len(_BRAND_FIELDS)
    [key] = rows_as(ApiKey, _KEY_FIELDS, rows)
    [brand] = rows_as(Brand, _BRAND_FIELDS, rows, start=k)
    [carrier] = rows_as(Carrier, _CARRIER_FIELDS, rows, start=k + b)
    key.brand = brand if key.brand_id else None
    key.carrier = carrier if key.carrier_id else None
    return key


def authenticate_secret(secret: str) -> ApiKey:
    """The usable key with this secret; AuthenticationFailed otherwise."""
    if not secret or len(secret) > 200:
        raise exceptions.AuthenticationFailed("The API key is not valid.")
    now = timezone.now()
    key = _usable_key(ApiKey.hash(secret), now)
    if key is None:
        raise exceptions.AuthenticationFailed("The API key is not valid.")
    if key.last_used is None or now - key.last_used > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used=now)
        key.last_used = now
    return key


def _bearer(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


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
    """`ocp-apim-subscription-key: <key>`, or `Authorization: Bearer <key>` (the Sorted API)."""

    def authenticate(self, request):
        secret = request.META.get("HTTP_OCP_APIM_SUBSCRIPTION_KEY", "").strip() or _bearer(request)
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
    name = "subscriptionKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "ocp-apim-subscription-key",
            "description": "A client key (reads) or a carrier key (POST /tracking/carrierevents).",
        }


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
