"""Every write: atomic, row-locked where two writers could race, idempotent where retried.

Pages, both APIs, the admin and the management commands change data only through these
functions, so the status rules run in the same transaction as the events that drive them.
Bad values raise ValidationError keyed by the field name.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from tracking import fields
from tracking import status as rules
from tracking.db import bulk
from tracking.models import (
    CONSIGNMENT_REFERENCE,
    NAME_MAX,
    PACKAGE_REFERENCE,
    REFERENCE_MAX,
    TEXT_MAX,
    ApiKey,
    ApiKeyRole,
    Brand,
    Carrier,
    Consignment,
    Package,
    TrackingEvent,
    TrackingRecord,
    new_reference,
)

EARLIEST_EVENT, FUTURE_TOLERANCE = fields.EARLIEST_EVENT, fields.FUTURE_TOLERANCE
REFERENCE_ATTEMPTS = 8


# -- Field checks: the rules are tracking.fields'; these word them for ValidationError -----------


def _refuse(field_name: str, problem: fields.Problem | None) -> None:
    if problem is not None:
        raise ValidationError({field_name: rule_message(problem)})


def rule_message(problem: fields.Problem) -> str:
    """A fields.Problem as services words it: "<field> <this>" reads as a sentence."""
    match problem.code:
        case fields.TOO_LONG:
            return f"must be at most {problem.limit} characters"
        case fields.NOT_INTEGER:
            return "must be an integer"
        case fields.OUT_OF_RANGE:
            return "must be between {} and {}".format(*problem.limit)
        case fields.NOT_URL:
            return "must be an http:// or https:// URL"
        case fields.NO_OFFSET:
            return "must include a UTC offset"
        case fields.TOO_EARLY:
            return f"must not be before the year {problem.limit.year}"
        case fields.TOO_LATE:
            return f"must not be more than {fields.FUTURE_HOURS} hours in the future"
    raise AssertionError(f"no wording for {problem}")


def check_length(field_name: str, value: str, limit: int) -> None:
    _refuse(field_name, fields.check_length(value, limit))


def check_status(field_name: str, value: int) -> None:
    _refuse(field_name, fields.check_status(value, rules.STATUS_MIN, rules.STATUS_MAX))


def check_url(field_name: str, value: str) -> None:
    _refuse(field_name, fields.check_url(value))


def check_occurred_at(field_name: str, value: dt.datetime, now: dt.datetime) -> None:
    _refuse(field_name, fields.check_event_time(value, now))


def check_code(field_name: str, value: str) -> str:
    try:
        return rules.normalise_code(value)
    except ValueError as error:
        raise ValidationError({field_name: str(error)}) from None


# -- Consignments ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageSpec:
    reference: str | None = None
    description: str = ""


@transaction.atomic
def create_consignment(
    *,
    brand: Brand,
    packages: Sequence[PackageSpec],
    reference: str | None = None,
    customer_reference: str = "",
    destination_postcode: str = "",
    destination_country: str = "",
    destination_town: str = "",
    destination_address: str = "",
    recipient_name: str = "",
    recipient_email: str = "",
    expected_delivery_date: dt.date | None = None,
) -> Consignment:
    """A consignment with its packages; references are generated where not given."""
    if not packages:
        raise ValidationError({"packages": "must list at least one package"})
    check_length("customer_reference", customer_reference, REFERENCE_MAX)
    check_length("destination_postcode", destination_postcode, 20)
    check_length("destination_town", destination_town, NAME_MAX)
    check_length("destination_address", destination_address, NAME_MAX)
    check_length("recipient_name", recipient_name, NAME_MAX)
    destination_country = destination_country.strip().upper()
    if destination_country and not (
        len(destination_country) == 2 and destination_country.isascii()
    ):
        raise ValidationError({"destination_country": "must be a two-letter ISO country code"})
    if recipient_email:
        try:
            validate_email(recipient_email)
        except ValidationError:
            raise ValidationError({"recipient_email": "must be an email address"}) from None

    wanted = [spec.reference.strip().upper() for spec in packages if spec.reference]
    if len(set(wanted)) != len(wanted):
        raise ValidationError({"packages": "package references must be unique"})
    for index, spec in enumerate(packages):
        check_length(f"packages[{index}].description", spec.description, TEXT_MAX)
        if spec.reference and not PACKAGE_REFERENCE.match(spec.reference.strip().upper()):
            raise ValidationError({f"packages[{index}].reference": "must look like EP-XXX-XXX-XXX"})
    if reference:
        reference = reference.strip().upper()
        if not CONSIGNMENT_REFERENCE.match(reference):
            raise ValidationError({"reference": "must look like EC-XXX-XXX-XXX"})

    # A reference held by any brand is refused, and only the first one found is named: each
    # refusal tells the caller that someone holds it, so callers count them as lookups (the
    # code "reference_in_use" marks them) and one request learns one fact at most.
    if wanted:
        taken = set(
            Package.objects.filter(reference__in=wanted).values_list("reference", flat=True)
        )
        for index, spec in enumerate(packages):
            if spec.reference and (canonical := spec.reference.strip().upper()) in taken:
                raise _reference_in_use(f"packages[{index}].reference", canonical)
    if reference and Consignment.objects.filter(reference=reference).exists():
        raise _reference_in_use("reference", reference)

    now = timezone.now()
    consignment = _insert_with_reference(
        "reference",
        Consignment(
            reference=reference or "",
            brand=brand,
            customer_reference=customer_reference,
            destination_postcode=destination_postcode.strip(),
            destination_country=destination_country,
            destination_town=destination_town,
            destination_address=destination_address,
            recipient_name=recipient_name,
            recipient_email=recipient_email,
            expected_delivery_date=expected_delivery_date,
            created_utc=now,
            modified_utc=now,
        ),
        "EC",
    )
    for sequence, spec in enumerate(packages, start=1):
        _insert_with_reference(
            f"packages[{sequence - 1}].reference",
            Package(
                consignment=consignment,
                reference=(spec.reference or "").strip().upper(),
                description=spec.description,
                sequence=sequence,
            ),
            "EP",
        )
    return consignment


def _reference_in_use(field_name: str, reference: str) -> ValidationError:
    return ValidationError(
        {
            field_name: ValidationError(
                "%(reference)s is already in use",
                code="reference_in_use",
                params={"reference": reference},
            )
        }
    )


def _insert_with_reference(field_name: str, row: Consignment | Package, prefix: str):
    """Insert `row`, drawing a fresh random reference on the rare collision."""
    if row.reference:
        try:
            row.save(force_insert=True)
        except IntegrityError:
            # Another request stored this reference after create_consignment's check; the
            # reference is the only unique value a new row can clash on, so this is that check's
            # refusal, arriving late. (No query here: on PostgreSQL the transaction is aborted.)
            raise _reference_in_use(field_name, row.reference) from None
        return row
    for _attempt in range(REFERENCE_ATTEMPTS):
        row.reference = new_reference(prefix)
        try:
            with transaction.atomic():
                row.save(force_insert=True)
            return row
        except IntegrityError:
            if not type(row).objects.filter(reference=row.reference).exists():
                raise
    raise RuntimeError(f"could not draw an unused {prefix} reference")


# -- Legs ----------------------------------------------------------------------------------


@transaction.atomic
def add_leg(
    *,
    consignment: Consignment,
    source: str,
    carrier: Carrier | None = None,
    carrier_name: str = "",
    carrier_service_name: str = "",
    tracking_number: str = "",
    tracking_url: str = "",
    integration_name: str = "",
    sequence: int | None = None,
    packages: Iterable[Package] = (),
    status: int = rules.Status.UNKNOWN,
) -> TrackingRecord:
    """A carrier leg; a status above 0 is recorded as the leg's first event, occurring now."""
    check_length("carrier_name", carrier_name, NAME_MAX)
    check_length("carrier_service_name", carrier_service_name, NAME_MAX)
    check_length("tracking_number", tracking_number, REFERENCE_MAX)
    check_length("integration_name", integration_name, NAME_MAX)
    check_url("tracking_url", tracking_url)
    check_status("status", status)
    _check_sequence(sequence)
    packages = list(packages)

    locked = _lock(consignment.pk)
    for package in packages:
        if package.consignment_id != locked.pk:
            raise ValidationError({"packages": f"{package.reference} is not in this consignment"})
    if carrier is None and carrier_name.strip():
        carrier = Carrier.objects.for_name(carrier_name.strip())
    if carrier is not None and not carrier_name:
        carrier_name = carrier.name
    if sequence is None:
        sequence = (locked.legs.aggregate(top=Max("sequence"))["top"] or 0) + 1

    now = timezone.now()
    leg = TrackingRecord.objects.create(
        consignment=locked,
        carrier=carrier,
        carrier_name=carrier_name,
        carrier_service_name=carrier_service_name,
        tracking_number=tracking_number.strip(),
        tracking_url=tracking_url,
        integration_name=integration_name,
        sequence=sequence,
        created_utc=now,
        modified_utc=now,
        last_updated_date=now.date(),
    )
    if packages:
        leg.packages.set(packages)
    if status != rules.Status.UNKNOWN:
        _store([EventSpec(leg=leg, occurred_at=now, status=status)], now=now, source=source)
    else:
        _touch({locked.pk: locked.revision}, now)
    return leg


LEG_FIELDS = ("carrier_name", "carrier_service_name", "tracking_number", "tracking_url", "sequence")


@transaction.atomic
def update_leg(*, leg: TrackingRecord, source: str, **changes) -> bool:
    """Apply the given changes (None clears a text field); a new status appends an event.

    Returns False, writing nothing, when every given value equals the stored one.
    """
    unknown = set(changes) - {*LEG_FIELDS, "status"}
    if unknown:
        raise TypeError(f"update_leg() got unexpected fields {sorted(unknown)}")
    for name in ("carrier_name", "carrier_service_name", "tracking_number", "tracking_url"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    if "sequence" in changes:
        if changes["sequence"] is None:
            del changes["sequence"]
        else:
            _check_sequence(changes["sequence"])
    if changes.get("status") is None:
        changes.pop("status", None)
    else:
        check_status("status", changes["status"])
    check_length("carrier_name", changes.get("carrier_name", ""), NAME_MAX)
    check_length("carrier_service_name", changes.get("carrier_service_name", ""), NAME_MAX)
    check_length("tracking_number", changes.get("tracking_number", ""), REFERENCE_MAX)
    check_url("tracking_url", changes.get("tracking_url", ""))

    locked = _lock(leg.consignment_id)
    leg = TrackingRecord.objects.select_for_update().get(pk=leg.pk)
    new_status = changes.pop("status", None)
    changed = [name for name, value in changes.items() if getattr(leg, name) != value]
    # Status 0 (Unknown) is what a leg has before its first event; an event never sets it, so
    # asking for it changes nothing rather than appending an event that could not take effect.
    status_changes = new_status not in (None, rules.Status.UNKNOWN, leg.status)
    if not changed and not status_changes:
        return False

    now = timezone.now()
    for name in changed:
        setattr(leg, name, changes[name])
    if "carrier_name" in changed:
        leg.carrier = (
            Carrier.objects.for_name(leg.carrier_name.strip()) if leg.carrier_name else None
        )
        changed.append("carrier")
    leg.modified_utc = now
    leg.last_updated_date = now.date()
    leg.save(update_fields=[*changed, "modified_utc", "last_updated_date"])
    if status_changes:
        _store([EventSpec(leg=leg, occurred_at=now, status=new_status)], now=now, source=source)
    else:
        _touch({locked.pk: locked.revision}, now)
    return True


def _check_sequence(sequence: int | None) -> None:
    if sequence is None:
        return
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 1 <= sequence <= 10_000:
        raise ValidationError({"sequence": "must be an integer between 1 and 10000"})


# -- Events ----------------------------------------------------------------------------------


@dataclass
class EventSpec:
    """One event to store. Exactly one of `status` and `code` may be left out: the other is
    derived from it through the code table."""

    leg: TrackingRecord
    occurred_at: dt.datetime
    status: int | None = None
    code: str | None = None
    description: str = ""
    location: str = ""
    signed_by: str = ""
    package: Package | None = None
    field_prefix: str = field(default="", compare=False)


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int


def record_event(
    *,
    leg: TrackingRecord,
    source: str,
    status: int | None = None,
    code: str | None = None,
    description: str = "",
    location: str = "",
    signed_by: str = "",
    occurred_at: dt.datetime | None = None,
    package: Package | None = None,
    carrier_name: str | None = None,
) -> bool:
    """Store one event; False when an identical one is already stored and nothing was written.

    `carrier_name`, when given and different, renames the leg's carrier in the same write
    (and counts as a change even when the event itself is a duplicate).
    """
    now = timezone.now()
    spec = EventSpec(
        leg=leg,
        occurred_at=occurred_at or now,
        status=status,
        code=code,
        description=description,
        location=location,
        signed_by=signed_by,
        package=package,
    )
    with transaction.atomic():
        stored, renamed = _store([spec], now=now, source=source, carrier_name=carrier_name)
    return bool(stored) or renamed


def record_events(*, events: Sequence[EventSpec], source: str) -> StoreResult:
    """Store a batch all-or-nothing; events already stored are skipped, so retries are safe."""
    if not events:
        return StoreResult(stored=0, duplicates=0)
    with transaction.atomic():
        stored, _renamed = _store(list(events), now=timezone.now(), source=source)
    return StoreResult(stored=len(stored), duplicates=len(events) - len(stored))


def set_leg_status(*, leg: TrackingRecord, status: int, source: str) -> bool:
    """Set a leg's status by appending an event with it, so timeline and status agree."""
    return update_leg(leg=leg, source=source, status=status)


def _prepare(spec: EventSpec, now: dt.datetime) -> None:
    """Check a spec and fill in the status or code it left out."""
    prefix = spec.field_prefix
    if spec.code is not None:
        spec.code = check_code(f"{prefix}code", spec.code)
    if spec.status is not None:
        check_status(f"{prefix}status", spec.status)
    if spec.code is None and spec.status is None:
        raise ValidationError({f"{prefix}status": "is required"})
    if spec.code is None:
        spec.code = rules.code_for_status(spec.status)
    if spec.status is None:
        spec.status = int(rules.status_for_code(spec.code))
    spec.description = spec.description or ""
    spec.location = spec.location or ""
    spec.signed_by = spec.signed_by or ""
    check_length(f"{prefix}description", spec.description, TEXT_MAX)
    check_length(f"{prefix}location", spec.location, NAME_MAX)
    check_length(f"{prefix}signed_by", spec.signed_by, NAME_MAX)
    check_occurred_at(f"{prefix}occurred_at", spec.occurred_at, now)


def _store(
    specs: list[EventSpec],
    *,
    now: dt.datetime,
    source: str,
    carrier_name: str | None = None,
) -> tuple[list[_NewEvent], bool]:
    """The one write path for events. Must run inside transaction.atomic().

    Returns the events stored and whether the leg's carrier was renamed.

    Locks the consignments involved (in id order, so two batches cannot deadlock), skips events
    already stored, bulk-inserts the rest and re-derives each affected leg, package and
    consignment once. The consignment lock serialises every writer of a consignment, which is
    what makes the duplicate check and the status derivation race-free.
    """
    for spec in specs:
        _prepare(spec, now)
    consignment_ids = sorted({spec.leg.consignment_id for spec in specs})
    revisions = bulk.lock_consignments(consignment_ids)
    # The legs with the packages each carries (none listed: every package), in one query.
    legs, coverage = {}, defaultdict(set)
    for *row, package_id in bulk.leg_statuses({spec.leg.pk for spec in specs}):
        legs.setdefault(row[0], _Derived(*row))
        if package_id is not None:
            coverage[row[0]].add(package_id)
    packages = defaultdict(list)
    for row in bulk.package_statuses(consignment_ids):
        packages[row[1]].append(_Derived(*row))

    renamed = carrier_name is not None and _rename_carrier(specs[0].leg.pk, carrier_name, now)

    rows, seen = [], set()
    for spec in specs:
        leg = legs.get(spec.leg.pk)
        if leg is None:
            raise ValidationError({f"{spec.field_prefix}leg": "no longer exists"})
        package_id = spec.package.pk if spec.package else None
        if package_id and not fields.covers(
            leg_consignment_id=leg.consignment_id,
            listed_package_ids=coverage.get(leg.id),
            package_consignment_id=spec.package.consignment_id,
            package_id=package_id,
        ):
            raise ValidationError(
                {f"{spec.field_prefix}package": f"{spec.package.reference} is not on this leg"}
            )
        identity = TrackingEvent.identity_for(
            tracking_record_id=leg.id,
            package_id=package_id,
            code=spec.code,
            occurred_at=spec.occurred_at,
            description=spec.description,
        )
        if identity in seen:
            continue
        seen.add(identity)
        rows.append(
            _NewEvent(
                leg.id,
                package_id,
                spec.status,
                spec.code,
                spec.description,
                spec.location,
                spec.signed_by,
                spec.occurred_at,
                now,
                source,
                identity,
            )
        )

    inserted = bulk.insert_events(rows)
    new_rows = [row for row in rows if row.identity in inserted]
    if not new_rows:
        if renamed:
            _touch(revisions, now)
        return [], renamed
    _derive(new_rows, legs, packages, coverage, revisions, now)
    return new_rows, renamed


class _NewEvent(NamedTuple):
    """An event about to be stored, in the columns' order."""

    tracking_record_id: uuid.UUID
    package_id: uuid.UUID | None
    status: int
    code: str
    description: str
    location: str
    signed_by: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    source: str
    identity: uuid.UUID

    @property
    def status_key(self) -> rules.StatusKey:
        return rules.StatusKey(self.occurred_at, self.received_at, self.status)


class _Derived:
    """A leg's or package's stored status and the key of the event that set it, loaded as a
    plain row (bulk.STATUS_FIELDS): a batch touches hundreds of them and model instances would
    cost more than the derivation itself."""

    __slots__ = ("id", "consignment_id", "status", "occurred_at", "received_at")

    def __init__(self, id, consignment_id, status, occurred_at, received_at):  # noqa: A002
        self.id = id
        self.consignment_id = consignment_id
        self.status = status
        self.occurred_at = occurred_at
        self.received_at = received_at

    @property
    def key(self) -> rules.StatusKey | None:
        if self.occurred_at is None or self.received_at is None:
            return None
        return rules.StatusKey(self.occurred_at, self.received_at, self.status)

    def advance(self, candidates: list[rules.StatusKey]) -> bool:
        """Take the newest of the candidates if it is newer than what set the status."""
        current = self.key
        best = rules.newest([current, *candidates])
        if best is None or best == current:
            return False
        self.status, self.occurred_at, self.received_at = (
            best.status,
            best.occurred_at,
            best.received_at,
        )
        return True


def _rename_carrier(leg_id, carrier_name: str, now: dt.datetime) -> bool:
    check_length("carrier_name", carrier_name, NAME_MAX)
    leg = TrackingRecord.objects.get(pk=leg_id)
    if carrier_name == leg.carrier_name:
        return False
    leg.carrier_name = carrier_name
    leg.carrier = Carrier.objects.for_name(carrier_name.strip()) if carrier_name.strip() else None
    leg.modified_utc = now
    leg.last_updated_date = now.date()
    leg.save(update_fields=["carrier_name", "carrier", "modified_utc", "last_updated_date"])
    return True


def _derive(new_rows, legs, packages, coverage, revisions, now) -> None:
    """Move each affected leg's and package's status forward where a new event is newer."""
    by_leg = defaultdict(list)
    for row in new_rows:
        by_leg[row.tracking_record_id].append(row)

    leg_updates = []
    package_candidates = defaultdict(list)
    for leg_id, rows in by_leg.items():
        leg = legs[leg_id]
        leg.advance([row.status_key for row in rows])
        leg_updates.append((leg.id, leg.status, leg.occurred_at, leg.received_at, now, now.date()))
        leg_packages = coverage.get(leg_id) or {p.id for p in packages[leg.consignment_id]}
        for row in rows:
            for package_id in [row.package_id] if row.package_id else leg_packages:
                package_candidates[package_id].append(row.status_key)
    bulk.set_columns(
        TrackingRecord,
        ["status", "status_occurred_at", "status_received_at", "modified_utc", "last_updated_date"],
        leg_updates,
    )

    package_updates = [
        (package.id, package.status, package.occurred_at, package.received_at)
        for consignment_packages in packages.values()
        for package in consignment_packages
        if package.id in package_candidates and package.advance(package_candidates[package.id])
    ]
    bulk.set_columns(
        Package, ["status", "status_occurred_at", "status_received_at"], package_updates
    )

    statuses = {
        consignment_id: rules.consignment_status(p.status for p in packages[consignment_id])
        for consignment_id in revisions
    }
    _touch(revisions, now, statuses)


def _lock(consignment_id) -> Consignment:
    return Consignment.objects.select_for_update().get(pk=consignment_id)


def _touch(revisions: dict, now: dt.datetime, statuses: dict | None = None) -> None:
    """Record that something under these locked consignments ({id: revision}) changed, and
    set their roll-up statuses when given."""
    if statuses is None:
        bulk.set_columns(
            Consignment,
            ["revision", "modified_utc"],
            [(pk, revision + 1, now) for pk, revision in revisions.items()],
        )
    else:
        bulk.set_columns(
            Consignment,
            ["revision", "modified_utc", "status"],
            [(pk, revision + 1, now, statuses[pk]) for pk, revision in revisions.items()],
        )


@transaction.atomic
def rederive(consignment: Consignment) -> None:
    """Recompute every status of a consignment from its events (repair; tests compare the
    incremental derivation in _store against it)."""
    locked = _lock(consignment.pk)
    legs = list(locked.legs.prefetch_related("packages", "events"))
    packages = list(locked.packages.all())
    keys_by_package = defaultdict(list)
    for leg in legs:
        events = list(leg.events.all())
        best = rules.newest(event.status_key for event in events)
        leg.status = best.status if best else 0
        leg.status_occurred_at = best.occurred_at if best else None
        leg.status_received_at = best.received_at if best else None
        listed = {p.pk for p in leg.packages.all()}
        covered = [
            p.pk
            for p in packages
            if fields.covers(
                leg_consignment_id=leg.consignment_id,
                listed_package_ids=listed,
                package_consignment_id=p.consignment_id,
                package_id=p.pk,
            )
        ]
        for event in events:
            for package_id in [event.package_id] if event.package_id else covered:
                keys_by_package[package_id].append(event.status_key)
    TrackingRecord.objects.bulk_update(legs, ["status", "status_occurred_at", "status_received_at"])
    for package in packages:
        best = rules.newest(keys_by_package[package.pk])
        package.status = best.status if best else 0
        package.status_occurred_at = best.occurred_at if best else None
        package.status_received_at = best.received_at if best else None
    Package.objects.bulk_update(packages, ["status", "status_occurred_at", "status_received_at"])
    _touch(
        {locked.pk: locked.revision},
        timezone.now(),
        {locked.pk: rules.consignment_status(p.status for p in packages)},
    )


# -- Credentials -----------------------------------------------------------------------------


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


# -- Privacy -----------------------------------------------------------------------------------

PRIVATE_CONSIGNMENT_FIELDS = (
    "recipient_name",
    "recipient_email",
    "destination_address",
    "destination_postcode",
)


def export_consignment(consignment: Consignment) -> dict:
    """Everything stored about a consignment, for a subject-access request."""
    legs = consignment.legs.order_by("sequence", "created_utc").prefetch_related("packages")
    events = TrackingEvent.objects.filter(tracking_record__consignment=consignment).order_by(
        "occurred_at", "received_at", "id"
    )

    def when(value):
        return value.isoformat() if value else None

    return {
        "reference": consignment.reference,
        "id": str(consignment.pk),
        "brand": consignment.brand.slug,
        "customerReference": consignment.customer_reference,
        "recipient": {
            "name": consignment.recipient_name,
            "email": consignment.recipient_email,
            "address": consignment.destination_address,
            "town": consignment.destination_town,
            "postcode": consignment.destination_postcode,
            "country": consignment.destination_country,
        },
        "expectedDeliveryDate": when(consignment.expected_delivery_date),
        "status": consignment.status,
        "createdUtc": when(consignment.created_utc),
        "modifiedUtc": when(consignment.modified_utc),
        "packages": [
            {"reference": p.reference, "description": p.description, "status": p.status}
            for p in consignment.packages.order_by("sequence")
        ],
        "legs": [
            {
                "id": str(leg.pk),
                "carrierName": leg.carrier_name,
                "carrierServiceName": leg.carrier_service_name,
                "trackingNumber": leg.tracking_number,
                "trackingUrl": leg.tracking_url,
                "sequence": leg.sequence,
                "status": leg.status,
                "packages": [p.reference for p in leg.packages.all()],
            }
            for leg in legs
        ],
        "events": [
            {
                "leg": str(event.tracking_record_id),
                "package": event.package.reference if event.package else None,
                "occurredAt": when(event.occurred_at),
                "receivedAt": when(event.received_at),
                "code": event.code,
                "status": event.status,
                "description": event.description,
                "location": event.location,
                "signedBy": event.signed_by,
                "source": event.source,
            }
            for event in events.select_related("package")
        ],
    }


@transaction.atomic
def erase_recipient(consignment: Consignment) -> None:
    """Erasure on request: the recipient's personal data goes, the journey stays, anonymised.

    Events keep their times, codes, descriptions and town-level locations (the carrier's and
    brand's records of the delivery) but lose the name of whoever signed.
    """
    locked = _lock(consignment.pk)
    for name in PRIVATE_CONSIGNMENT_FIELDS:
        setattr(locked, name, "")
    locked.save(update_fields=list(PRIVATE_CONSIGNMENT_FIELDS))
    # The one sanctioned change to stored events: removing personal data from them.
    TrackingEvent.objects.filter(tracking_record__consignment=locked).exclude(signed_by="").update(
        signed_by=""
    )
    _touch({locked.pk: locked.revision}, timezone.now())
