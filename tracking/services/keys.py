"""API keys: issued and rotated here so a secret is shown once and only its hash is stored."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tracking.models import NAME_MAX, ApiKey, ApiKeyRole, Brand, Carrier
from tracking.services.checks import check_length


@transaction.atomic
def issue_api_key(
    *,
    name: str,
    brand: Brand | None = None,
    carrier: Carrier | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key for a brand (client) or a carrier. The secret is returned once, never stored."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "must not be blank"})
    check_length("name", name, NAME_MAX)
    if (brand is None) == (carrier is None):
        raise ValidationError({"role": "give exactly one of a brand (client) or carrier"})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "must be in the future"})
    secret = ApiKey.new_secret()
    key = ApiKey.objects.create(
        name=name,
        role=ApiKeyRole.CLIENT if brand else ApiKeyRole.CARRIER,
        brand=brand,
        carrier=carrier,
        prefix=secret[: len(ApiKey.PREFIX) + 6],
        hashed_secret=ApiKey.hash(secret),
        expires_at=expires_at,
    )
    return key, secret


ROTATION_GRACE = dt.timedelta(hours=24)


@transaction.atomic
def rotate_api_key(*, key: ApiKey) -> tuple[ApiKey, str]:
    """A new key with the same name and binding; the old one keeps working for a grace period
    (24 hours, or less if it already expires sooner) so clients can switch without downtime."""
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if not key.active:
        raise ValidationError({"active": "a revoked key cannot be rotated; issue a new one"})
    new_key, secret = issue_api_key(
        name=key.name, brand=key.brand, carrier=key.carrier, expires_at=key.expires_at
    )
    grace_ends = timezone.now() + ROTATION_GRACE
    if key.expires_at is None or key.expires_at > grace_ends:
        key.expires_at = grace_ends
        key.save(update_fields=["expires_at"])
    return new_key, secret
