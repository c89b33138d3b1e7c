"""The one door through which a page or API loads a consignment (or a brand's webhook
subscription) for someone.

Every read and every write target is looked up here, scoped to what the caller may see: a
client key sees its brand's consignments and webhook subscriptions, a carrier key the legs of
its own carrier, and a customer the consignment whose reference (or one of whose package
references) they hold; a number a customer has (tracking or order number) only names
candidates, which the delivery postcode picks from. "Does not exist" and "not yours" raise
the same NotFound, so no answer tells one brand about another's data. Back-office users get
their StaffScope here too (staff_scope), which every admin page and desk page applies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.db.models.functions import Upper

from tracking.db.prepared import Many, PreparedQuery, rows_as
from tracking.fields import REFERENCE_MAX, covers
from tracking.models import (
    CONSIGNMENT_REFERENCE,
    PACKAGE_REFERENCE,
    ApiKey,
    Consignment,
    Package,
    TrackingRecord,
    WebhookSubscription,
)
from tracking.timeline import Timeline


class NotFound(Exception):
    """Nothing the caller may see matches."""


def normalise_reference(raw: str) -> str | None:
    """A consignment reference as typed by a person ('ec-abc-def-ghj ') in canonical form,
    or None when it cannot be one."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    reference = raw.strip().upper()
    return reference if CONSIGNMENT_REFERENCE.match(reference) else None


def _as_uuid(value) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound from None


# -- Customers (the public page) ---------------------------------------------------------------


def timeline_for_reference(reference: str) -> Timeline:
    """A consignment for whoever holds its reference (the brand comes with it)."""
    canonical = normalise_reference(reference)
    if canonical is None:
        raise NotFound
    timeline = Timeline.remembered(canonical)
    if timeline is None:
        raise NotFound
    return timeline


def timeline_for_package_reference(reference: str) -> Timeline:
    """The consignment of a package, for whoever holds the package's EP- reference (as
    unguessable as the consignment's own)."""
    canonical = reference.strip().upper() if isinstance(reference, str) else ""
    if not PACKAGE_REFERENCE.match(canonical):
        raise NotFound
    found = (
        Package.objects.filter(reference=canonical)
        .values_list("consignment__reference", flat=True)
        .first()
    )
    if found is None:
        raise NotFound
    return timeline_for_reference(found)


NUMBER_CANDIDATES_MAX = 20  # of each kind: a recycled number may be on many legs


def consignments_by_number(number: str) -> list[Consignment]:
    """The consignments a customer may mean by a carrier's tracking number or the shop's order
    number (the customer reference), in any case, newest first, with only what choosing among
    them needs (reference, destination postcode, created).

    Not a door by itself: such numbers are guessable and shared between brands, so the caller
    picks among these by the delivery postcode (tracking.pages.verification) and never lets a
    number alone show a parcel. The functional indexes leg_tracking_number_ci and
    consignment_customer_ref_ci (migration 0009) serve the two queries."""
    value = number.strip() if isinstance(number, str) else ""
    if not value or len(value) > REFERENCE_MAX:
        return []
    wanted = value.upper()
    fields = ["id", "reference", "destination_postcode", "created_utc"]
    on_legs = (
        TrackingRecord.objects.alias(n=Upper("tracking_number"))
        .filter(n=wanted)
        .order_by("-consignment__created_utc", "-consignment_id")
        .values_list(*(f"consignment__{name}" for name in fields))[:NUMBER_CANDIDATES_MAX]
    )
    by_order = (
        Consignment.objects.alias(n=Upper("customer_reference"))
        .filter(n=wanted)
        .order_by("-created_utc", "-id")
        .values_list(*fields)[:NUMBER_CANDIDATES_MAX]
    )
    found = {c.pk: c for c in rows_as(Consignment, fields, [*on_legs, *by_order])}
    return sorted(found.values(), key=lambda c: (c.created_utc, c.pk), reverse=True)


# -- Client keys ---------------------------------------------------------------------------------


def consignments_for_key(key: ApiKey) -> QuerySet[Consignment]:
    if not key.is_client:
        return Consignment.objects.none()
    return Consignment.objects.filter(brand_id=key.brand_id)


def timeline_for_key(key: ApiKey, *, consignment_id=None, reference: str | None = None) -> Timeline:
    """A consignment of the key's brand, by id or by reference."""
    if not key.is_client:
        raise NotFound
    if consignment_id is not None:
        timeline = Timeline.find(pk=_as_uuid(consignment_id), brand_id=key.brand_id)
    elif reference is not None:
        canonical = normalise_reference(reference)
        if canonical is None:
            raise NotFound
        timeline = Timeline.find(reference=canonical, brand_id=key.brand_id)
    else:
        raise TypeError("timeline_for_key() needs consignment_id or reference")
    if timeline is None:
        raise NotFound
    return timeline


def consignment_for_key(key: ApiKey, consignment_id) -> Consignment:
    """A consignment of the key's brand as a model instance, for writes."""
    consignment = consignments_for_key(key).filter(pk=_as_uuid(consignment_id)).first()
    if consignment is None:
        raise NotFound
    return consignment


def legs_for_key(key: ApiKey, consignment_id) -> QuerySet[TrackingRecord]:
    """The legs of one consignment of the key's brand (raises NotFound for a foreign one)."""
    consignment = consignment_for_key(key, consignment_id)
    return TrackingRecord.objects.filter(consignment=consignment)


def leg_for_key(key: ApiKey, consignment_id, leg_id) -> TrackingRecord:
    """One leg of one consignment of the key's brand, for writes."""
    if not key.is_client:
        raise NotFound
    leg = (
        TrackingRecord.objects.select_related("consignment")
        .filter(
            pk=_as_uuid(leg_id),
            consignment_id=_as_uuid(consignment_id),
            consignment__brand_id=key.brand_id,
        )
        .first()
    )
    if leg is None:
        raise NotFound
    return leg


# -- Webhook subscriptions (design section 7.3) --------------------------------------------------


def subscriptions_for_key(key: ApiKey) -> QuerySet[WebhookSubscription]:
    """The key's brand's webhook subscriptions (none for a carrier key)."""
    if not key.is_client:
        return WebhookSubscription.objects.none()
    return WebhookSubscription.objects.filter(brand_id=key.brand_id)


def subscription_for_key(key: ApiKey, subscription_id) -> WebhookSubscription:
    """One webhook subscription of the key's brand; another brand's, a missing one and a
    malformed id raise the same NotFound."""
    subscription = subscriptions_for_key(key).filter(pk=_as_uuid(subscription_id)).first()
    if subscription is None:
        raise NotFound
    return subscription


# -- Carrier keys ----------------------------------------------------------------------------


_LEG_FIELDS = [f.attname for f in TrackingRecord._meta.concrete_fields]
_PACKAGE_FIELDS = [f.attname for f in Package._meta.concrete_fields]
# Every carrier post looks its legs and packages up: compiled once (tracking.db.prepared).
_CARRIER_LEGS = PreparedQuery(
    # Carriers' numbers match in any case, as in the ASP.NET original (design section 7.1);
    # the leg_carrier_number_ci index (carrier, UPPER(tracking_number)) serves this.
    lambda carrier_id, numbers: (
        TrackingRecord.objects.alias(number_ci=Upper("tracking_number"))
        .filter(carrier_id=carrier_id, number_ci__in=numbers)
        .order_by("created_utc", "id")
        .values_list(*_LEG_FIELDS, "packages__id")
    ),
    carrier_id=TrackingRecord._meta.get_field("carrier"),
    numbers=Many(TrackingRecord._meta.get_field("tracking_number")),
)
_PACKAGES = PreparedQuery(
    lambda references: (
        Package.objects.filter(reference__in=references).order_by().values_list(*_PACKAGE_FIELDS)
    ),
    references=Many(Package._meta.get_field("reference")),
)


def legs_for_carrier(key: ApiKey, tracking_numbers: set[str]) -> dict[str, list[TrackingRecord]]:
    """The carrier's legs by tracking number as asked for, newest first, each with
    `listed_package_ids`: the packages it lists (none: it carries every package of its
    consignment). A number finds its legs in any case ("cx0001" those of CX0001).

    A number may be on several legs: carriers recycle numbers, and any brand may book a leg
    with any number, so a number alone never decides which leg an event belongs to (see
    leg_carrying)."""
    if not key.is_carrier or not tracking_numbers:
        return {}
    # SQLite's UPPER() folds ASCII letters only, so a number with other letters is also asked
    # for as given: it is then found in the case it was stored in, at least.
    asked = {number.upper() for number in tracking_numbers} | {
        number for number in tracking_numbers if not number.isascii()
    }
    by_number: dict[str, list[TrackingRecord]] = {}
    by_id: dict = {}
    for row in _CARRIER_LEGS.rows(carrier_id=key.carrier_id, numbers=asked):
        leg_id, package_id = row[0], row[-1]
        leg = by_id.get(leg_id)
        if leg is None:
            [leg] = rows_as(TrackingRecord, _LEG_FIELDS, [row])
            by_id[leg_id] = leg
            leg.listed_package_ids = set()
            by_number.setdefault(leg.tracking_number.upper(), []).append(leg)
        if package_id is not None:
            leg.listed_package_ids.add(package_id)
    for candidates in by_number.values():
        candidates.reverse()
    legs = {}
    for number in tracking_numbers:
        candidates = by_number.get(number.upper())
        if candidates:
            legs[number] = candidates
    return legs


def leg_carrying(candidates: list[TrackingRecord], package: Package | None):
    """Of the legs sharing a tracking number (newest first), the one that carries `package`.

    The package proves which consignment, and so which brand, is meant: another brand's leg
    with the same number can never take its events, and a recycled number still reaches the
    newest leg that carries the package."""
    if package is None:
        return None
    for leg in candidates:
        if covers(
            leg_consignment_id=leg.consignment_id,
            listed_package_ids=leg.listed_package_ids,
            package_consignment_id=package.consignment_id,
            package_id=package.pk,
        ):
            return leg
    return None


def packages_by_reference(references: set[str]) -> dict[str, Package]:
    """Packages by EP- reference; callers check each is on the leg it is posted for."""
    if not references:
        return {}
    packages = rows_as(Package, _PACKAGE_FIELDS, _PACKAGES.rows(references=references))
    return {package.reference: package for package in packages}


# -- Staff (the back office) -------------------------------------------------------------------


@dataclass(frozen=True)
class StaffScope:
    """What a back-office user may see (design section 7.5): every brand (a superuser), one
    brand (brand staff, `createstaff`), or nothing (staff without a brand)."""

    every_brand: bool
    brand_id: int | None

    def limit(self, queryset: QuerySet, brand_path: str) -> QuerySet:
        """`queryset` cut to this scope; `brand_path` leads from its model to the Brand
        ("brand" for a consignment, "consignment__brand" for a package or a leg, ...)."""
        if self.every_brand:
            return queryset
        if self.brand_id is None:
            return queryset.none()
        return queryset.filter(**{brand_path: self.brand_id})


def staff_scope(user) -> StaffScope:
    if not (user.is_active and user.is_staff):
        return StaffScope(every_brand=False, brand_id=None)
    if user.is_superuser:
        return StaffScope(every_brand=True, brand_id=None)
    try:
        brand_id = user.brand_staff.brand_id
    except ObjectDoesNotExist:  # staff of no brand
        brand_id = None
    return StaffScope(every_brand=False, brand_id=brand_id)
