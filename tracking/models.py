"""What the data is: brands, carriers, consignments, packages, legs, events and API keys.

The database enforces the shape (status ranges, unique references, one stored copy of each
event); the rules that change several rows at once live in tracking/services/.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Replace, Upper
from django.utils import timezone

from tracking import status as rules
from tracking.fields import (
    CARRIER_CODE,
    CONSIGNMENT_REFERENCE,
    COUNTRY_CODE,
    EMBED_ORIGIN,
    HEX_COLOUR,
    HTTP_URL,
    NAME_MAX,
    PACKAGE_REFERENCE,
    POSTCODE_MAX,
    RAW_CODE_MAX,
    REFERENCE_ALPHABET,
    REFERENCE_MAX,
    TEXT_MAX,
    URL_MAX,
    covers,
)

# -- Validation shared by models, services and both APIs: the rules are tracking.fields' --------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def new_reference(prefix: str) -> str:
    """An unguessable EC-/EP- reference: 9 symbols of 32 from the OS's CSPRNG (45 bits)."""
    symbols = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(9))
    return f"{prefix}-{symbols[:3]}-{symbols[3:6]}-{symbols[6:]}"


def new_consignment_reference() -> str:
    return new_reference("EC")


def new_package_reference() -> str:
    return new_reference("EP")


def validate_http_url(value: str) -> None:
    if value and not HTTP_URL.fullmatch(value):
        raise ValidationError("must be an http:// or https:// URL", code="invalid_url")


def validate_logo_url(value: str) -> None:
    """A logo is an http(s) URL or a path on this site such as /static/brand/logo.svg."""
    if value.startswith("/") and not value.startswith("//") and " " not in value:
        return
    validate_http_url(value)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"{value!r} is not a known IANA time zone (e.g. Europe/London)", code="time_zone"
        )


def validate_embed_origins(value: str) -> None:
    for origin in parse_origins(value):
        if not EMBED_ORIGIN.match(origin):
            raise ValidationError(
                f"{origin!r} is not an origin: give scheme and host with an optional port and no "
                "path, e.g. https://shop.example.com, https://shop.example.com:8443 or "
                "https://*.example.com for every subdomain",
                code="embed_origin",
            )


def parse_origins(value: str) -> list[str]:
    return [line.strip().rstrip("/").lower() for line in value.splitlines() if line.strip()]


consignment_reference_validator = RegexValidator(
    CONSIGNMENT_REFERENCE, "must look like EC-XXX-XXX-XXX (digits and capital letters)"
)
package_reference_validator = RegexValidator(
    PACKAGE_REFERENCE, "must look like EP-XXX-XXX-XXX (digits and capital letters)"
)
status_validators = [MinValueValidator(rules.STATUS_MIN), MaxValueValidator(rules.STATUS_MAX)]


def status_range(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": rules.STATUS_MIN, f"{field}__lte": rules.STATUS_MAX}),
        name=name,
        violation_error_message=f"{field} must be between {rules.STATUS_MIN} and "
        f"{rules.STATUS_MAX}",
    )


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    GERMAN = "de", "Deutsch"
    FRENCH = "fr", "Français"
    SPANISH = "es", "Español"


# -- Tenants and carriers ------------------------------------------------------------------


class Brand(models.Model):
    """A retailer or 3PL: the tenant whose customers see the page and whose keys use the API."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=NAME_MAX)
    logo_url = models.CharField(
        max_length=URL_MAX,
        blank=True,
        validators=[validate_logo_url],
        help_text="Logo on the tracking page (SVG or PNG): an http(s) URL or a /static/ path.",
    )
    primary_colour = models.CharField(
        max_length=7,
        default="#1f4e8c",
        validators=[RegexValidator(HEX_COLOUR, "must be a colour like #1f4e8c")],
        help_text="Header and buttons. Replaced by a safe colour if it fails WCAG contrast.",
    )
    accent_colour = models.CharField(
        max_length=7,
        default="#0b7a53",
        validators=[RegexValidator(HEX_COLOUR, "must be a colour like #0b7a53")],
        help_text="Progress bar and links. Replaced by a safe colour if it fails WCAG contrast.",
    )
    support_email = models.EmailField(blank=True)
    support_url = models.CharField(max_length=URL_MAX, blank=True, validators=[validate_http_url])
    embed_origins = models.TextField(
        blank=True,
        validators=[validate_embed_origins],
        help_text=(
            "Sites allowed to show the tracking page in an iframe, one origin per line: "
            "https://shop.example.com, or https://*.example.com for every subdomain."
        ),
    )
    default_language = models.CharField(
        max_length=5, choices=Language.choices, default=Language.ENGLISH
    )
    time_zone = models.CharField(
        max_length=64, default="Europe/London", validators=[validate_time_zone]
    )
    notify_recipient = models.BooleanField(
        default=False,
        help_text=(
            "Email each consignment's recipient email about its progress without asking them "
            "to opt in first (customers can always opt in on the tracking page)."
        ),
    )
    # Moves on with every change to the row, whoever writes it: a trigger (migration 0007) sets
    # it, so the pages' ETags and cached bodies follow every brand edit without naming fields.
    revision = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def embed_origin_list(self) -> list[str]:
        return parse_origins(self.embed_origins)

    def embedding_origin(self, candidate: str) -> str | None:
        """`candidate` (a page's origin) when this brand allows it to embed the tracking page,
        else None. `https://*.example.com` allows every subdomain of example.com, not the
        apex, as CSP's frame-ancestors does."""
        if not isinstance(candidate, str) or len(candidate) > 300:
            return None
        origin = candidate.strip().rstrip("/").lower()
        if not EMBED_ORIGIN.match(origin) or "*" in origin:
            return None
        for allowed in self.embed_origin_list:
            if origin == allowed:
                return origin
            scheme, _, host = allowed.partition("://*.")
            if host and origin.startswith(f"{scheme}://") and origin.endswith(f".{host}"):
                return origin
        return None

    @cached_property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class CarrierQuerySet(models.QuerySet):
    def for_name(self, name: str) -> Carrier:
        """The carrier called `name` (any case), created with a derived code when new."""
        carrier = self.filter(name__iexact=name).order_by("id").first()
        if carrier:
            return carrier
        base = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")[:40] or "CARRIER"
        code, n = base, 1
        while self.filter(code=code).exists():
            n += 1
            code = f"{base}_{n}"
        return self.create(code=code, name=name)


class Carrier(models.Model):
    code = models.CharField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(CARRIER_CODE, "must be upper-case like CARRIER_X")],
    )
    name = models.CharField(max_length=NAME_MAX)

    objects = CarrierQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def validate_known_code(value: str) -> None:
    if value not in rules.CODE_STATUS:
        raise ValidationError("must be one of the normalised codes, like DELIVERED")


class CodeMapping(models.Model):
    """What one carrier's own event code means among the normalised codes (design section 7.1).

    Applies to the events stored and to come: `code` is the carrier's code in normalised form
    (case and separators ignored), `maps_to` the normalised code it stands for."""

    carrier = models.ForeignKey(Carrier, on_delete=models.CASCADE, related_name="code_mappings")
    code = models.CharField(
        max_length=rules.CODE_MAX_LENGTH, help_text="The carrier's code, e.g. ZUGESTELLT."
    )
    maps_to = models.CharField(
        max_length=rules.CODE_MAX_LENGTH,
        validators=[validate_known_code],
        help_text="The normalised code it means, e.g. DELIVERED.",
    )
    created_utc = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["carrier", "code"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "code"], name="code_mapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.carrier}: {self.code} → {self.maps_to}"

    def clean(self) -> None:
        try:
            self.code = rules.normalise_code(self.code or "")
        except ValueError as error:
            raise ValidationError({"code": str(error)}) from None
        if self.code in rules.CODE_STATUS:
            raise ValidationError(
                {"code": "is a normalised code already; map only codes the table does not know"}
            )


# -- Shipments -----------------------------------------------------------------------------


class Consignment(models.Model):
    """One shipment from one origin to one destination, for one brand."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(
        max_length=14,
        unique=True,
        default=new_consignment_reference,
        validators=[consignment_reference_validator],
        help_text="EC-XXX-XXX-XXX, drawn at random; may be replaced by one of your own.",
    )
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="consignments")
    customer_reference = models.CharField(max_length=REFERENCE_MAX, blank=True)
    destination_postcode = models.CharField(max_length=POSTCODE_MAX, blank=True)
    destination_country = models.CharField(
        max_length=2,
        blank=True,
        validators=[RegexValidator(COUNTRY_CODE.pattern, "must be a two-letter ISO country code")],
    )
    destination_town = models.CharField(max_length=NAME_MAX, blank=True)
    destination_address = models.CharField(
        max_length=NAME_MAX, blank=True, help_text="Street address (private)."
    )
    recipient_name = models.CharField(max_length=NAME_MAX, blank=True)
    recipient_email = models.EmailField(blank=True)
    expected_delivery_date = models.DateField(null=True, blank=True)
    # Roll-up of the packages' statuses, derived by services in the same transaction as events.
    status = models.PositiveSmallIntegerField(
        choices=rules.STATUS_CHOICES, default=0, validators=status_validators
    )
    warning = models.PositiveSmallIntegerField(
        choices=rules.WARNING_CHOICES, default=0, editable=False
    )
    # Derived with the statuses, for the support desk's watchlist and scorecard: the newest
    # event's time, the first carrier scan (an event at Dispatched or later), and when the last
    # package was delivered (set only while every live package is).
    last_event_at = models.DateTimeField(null=True, blank=True, editable=False)
    first_scan_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Bumped on every change to the consignment or anything below it: the page's ETag and the
    # cache key of its timeline, so neither can go stale within one second.
    revision = models.PositiveIntegerField(default=0, editable=False)
    created_utc = models.DateTimeField(default=timezone.now, editable=False)
    modified_utc = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_utc"]
        constraints = [status_range("status", "consignment_status_range")]
        indexes = [
            # GET /v1/consignments: a brand's consignments in created order, paged.
            models.Index(fields=["brand", "created_utc", "id"], name="consignment_brand_created"),
            # Admin and API search by the client's own reference; the customer's lookup by
            # order number, in any case.
            models.Index(fields=["customer_reference"], name="consignment_customer_ref"),
            models.Index(Upper("customer_reference"), name="consignment_customer_ref_ci"),
            # The support desk's search by what the customer says, in any case (and the
            # postcode without its spaces), and the watchlist's categories per brand.
            models.Index(Upper("recipient_name"), name="consignment_recipient_ci"),
            models.Index(Upper("recipient_email"), name="consignment_email_ci"),
            models.Index(
                Replace(Upper("destination_postcode"), Value(" "), Value("")),
                name="consignment_postcode_ci",
            ),
            models.Index(fields=["brand", "status", "last_event_at"], name="consignment_watch"),
            models.Index(fields=["brand", "delivered_at"], name="consignment_delivered"),
        ]

    def __str__(self) -> str:
        return self.reference

    def clean(self) -> None:
        if self.reference:
            self.reference = self.reference.strip().upper()

    def postcode_matches(self, candidate: str) -> bool:
        """Postcodes compare ignoring case and spaces ('sw1a 1aa' == 'SW1A1AA')."""
        stored = normalise_postcode(self.destination_postcode)
        return bool(stored) and secrets.compare_digest(stored, normalise_postcode(candidate))


def normalise_postcode(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def standing_fields() -> tuple:
    """A leg's or package's derived status and the standing it was derived from
    (status.Standing): the stage reached and the newest progress, problem and delay events that
    decide it, so a batch of new events re-derives it without reading the old ones. Declared
    in each model's body (not an abstract parent, whose fields would come before the id)."""
    return (
        models.PositiveSmallIntegerField(
            choices=rules.STATUS_CHOICES, default=0, validators=status_validators
        ),
        models.PositiveSmallIntegerField(choices=rules.WARNING_CHOICES, default=0, editable=False),
        models.PositiveSmallIntegerField(default=0, editable=False),
        models.DateTimeField(null=True, blank=True, editable=False),
        models.PositiveSmallIntegerField(default=0, editable=False),
        models.DateTimeField(null=True, blank=True, editable=False),
        models.PositiveSmallIntegerField(default=0, editable=False),
        models.DateTimeField(null=True, blank=True, editable=False),
    )


class HasStanding:
    @property
    def standing(self) -> rules.Standing:
        return rules.Standing.from_columns(*(getattr(self, name) for name in STANDING_COLUMNS))


# Standing's columns in the order status.Standing.from_columns takes them; the derived status
# and warning come first in every write (status.Standing.columns).
STANDING_COLUMNS = (
    "stage",
    "progress_at",
    "progress_status",
    "problem_at",
    "problem_status",
    "delay_at",
)
DERIVED_COLUMNS = ("status", "warning", *STANDING_COLUMNS)


class Package(HasStanding, models.Model):
    """One parcel of a consignment."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consignment = models.ForeignKey(Consignment, on_delete=models.CASCADE, related_name="packages")
    reference = models.CharField(
        max_length=14,
        unique=True,
        default=new_package_reference,
        validators=[package_reference_validator],
        help_text="EP-XXX-XXX-XXX, drawn at random; may be replaced by one of your own.",
    )
    description = models.CharField(max_length=TEXT_MAX, blank=True)
    sequence = models.PositiveIntegerField(default=1)
    # Derived by services from the events of all the package's legs (DERIVED_COLUMNS).
    (
        status,
        warning,
        stage,
        progress_at,
        progress_status,
        problem_at,
        problem_status,
        delay_at,
    ) = standing_fields()

    class Meta:
        # No ordering by the consignment: it would join and sort on every query of packages.
        ordering = ["sequence", "reference"]
        constraints = [status_range("status", "package_status_range")]
        # The timeline's packages of one consignment, in order.
        indexes = [models.Index(fields=["consignment", "sequence"], name="package_consignment")]

    def __str__(self) -> str:
        return self.reference


class TrackingRecord(HasStanding, models.Model):
    """One carrier's leg of the journey: Consignly's "consignment tracking", Sorted's "Leg"."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consignment = models.ForeignKey(Consignment, on_delete=models.CASCADE, related_name="legs")
    carrier = models.ForeignKey(
        Carrier, null=True, blank=True, on_delete=models.PROTECT, related_name="legs"
    )
    carrier_name = models.CharField(max_length=NAME_MAX, blank=True)
    carrier_service_name = models.CharField(max_length=NAME_MAX, blank=True)
    tracking_number = models.CharField(max_length=REFERENCE_MAX, blank=True)
    tracking_url = models.CharField(max_length=URL_MAX, blank=True, validators=[validate_http_url])
    integration_name = models.CharField(max_length=NAME_MAX, blank=True)
    sequence = models.PositiveIntegerField(default=1, help_text="Leg order; lower is earlier.")
    packages = models.ManyToManyField(
        Package,
        blank=True,
        related_name="legs",
        help_text="The packages this leg carries; none selected means every package.",
    )
    # Derived by services from the leg's events (DERIVED_COLUMNS).
    (
        status,
        warning,
        stage,
        progress_at,
        progress_status,
        problem_at,
        problem_status,
        delay_at,
    ) = standing_fields()
    created_utc = models.DateTimeField(default=timezone.now, editable=False)
    modified_utc = models.DateTimeField(default=timezone.now, editable=False)
    last_updated_date = models.DateField(default=timezone.localdate, editable=False)

    class Meta:
        ordering = ["sequence", "created_utc"]
        verbose_name = "tracking record (leg)"
        verbose_name_plural = "tracking records (legs)"
        constraints = [status_range("status", "leg_status_range")]
        indexes = [
            # GET /v1/consignments/{id}/tracking: a consignment's legs in created order, paged.
            models.Index(fields=["consignment", "created_utc", "id"], name="leg_consignment"),
            # POST /tracking/carrierevents: a carrier's leg by its tracking number.
            models.Index(fields=["carrier", "tracking_number"], name="leg_carrier_number"),
            # Admin search by tracking number alone.
            models.Index(fields=["tracking_number"], name="leg_tracking_number"),
            # Carrier references and the customer's lookup by tracking number, in any case.
            models.Index("carrier", Upper("tracking_number"), name="leg_carrier_number_ci"),
            models.Index(Upper("tracking_number"), name="leg_tracking_number_ci"),
        ]

    def __str__(self) -> str:
        label = self.carrier_name or "leg"
        return f"{label} {self.tracking_number}".strip()

    def clean(self) -> None:
        if self.carrier_id and not self.carrier_name:
            self.carrier_name = self.carrier.name

    @property
    def service_name(self) -> str:
        """Sorted's CarrierServiceName: the service, or the carrier's name when there is none."""
        return self.carrier_service_name or self.carrier_name

    def carries(self, package: Package) -> bool:
        """Whether this leg carries `package` (fields.covers), from the packages it lists."""
        return covers(
            leg_consignment_id=self.consignment_id,
            listed_package_ids={p.pk for p in self.packages.all()},
            package_consignment_id=package.consignment_id,
            package_id=package.pk,
        )


class EventSource(models.TextChoices):
    CONSIGNLY = "consignly-api", "Consignly API"
    SORTED = "sorted-api", "Sorted API"
    ADMIN = "admin", "Back office"


class TrackingEvent(models.Model):
    """One scan or status change. Append-only: stored once, never edited."""

    tracking_record = models.ForeignKey(
        TrackingRecord,
        on_delete=models.CASCADE,
        related_name="events",
        # event_leg_time below leads with this column and serves every lookup by leg; a second
        # index would only slow ingestion down.
        db_index=False,
    )
    package = models.ForeignKey(
        Package,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        help_text="Empty: the event applies to every package of the leg.",
    )
    status = models.PositiveSmallIntegerField(choices=rules.STATUS_CHOICES)
    code = models.CharField(max_length=rules.CODE_MAX_LENGTH)
    # The code exactly as the carrier (or client) sent it; `code` is its normalised form, or
    # what a carrier code mapping made of it. Identity is computed from this one.
    raw_code = models.CharField(max_length=RAW_CODE_MAX)
    description = models.CharField(max_length=TEXT_MAX, blank=True)
    location = models.CharField(max_length=NAME_MAX, blank=True)
    signed_by = models.CharField(max_length=NAME_MAX, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, choices=EventSource.choices)
    # One stored copy per (leg, package or none, code, occurred_at, description): the first 128
    # bits of a SHA-256 of those, unique. A hash rather than a composite unique index because a
    # NULL package would make rows distinct in both SQLite and PostgreSQL, and a 1,000-character
    # description can exceed PostgreSQL's btree row limit; a UUID column rather than hex text
    # because it compares as bytes and keeps the index a quarter of the size.
    identity = models.UUIDField(unique=True, editable=False)

    class Meta:
        ordering = ["occurred_at", "received_at", "id"]
        constraints = [
            status_range("status", "event_status_range"),
            models.CheckConstraint(condition=~Q(code=""), name="event_code_set"),
        ]
        # The timeline: a leg's events in time order.
        indexes = [
            models.Index(
                fields=["tracking_record", "occurred_at", "received_at"], name="event_leg_time"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} at {self.occurred_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def identity_for(
        *,
        tracking_record_id: uuid.UUID,
        package_id: uuid.UUID | None,
        code: str,
        occurred_at: datetime,
        description: str,
    ) -> uuid.UUID:
        """The de-duplication key shared by both APIs (design section 3): the moment counts
        in microseconds since the epoch, so the same instant in any offset is the same event."""
        instant = (occurred_at - _EPOCH) // _MICROSECOND
        package = package_id.hex if package_id else "-"
        key = f"{tracking_record_id.hex}\x1f{package}\x1f{code}\x1f{instant}\x1f{description}"
        return uuid.UUID(bytes=hashlib.sha256(key.encode()).digest()[:16])

    @property
    def mark(self) -> rules.Mark | None:
        return rules.mark(self.occurred_at, self.status, self.code)


# -- The support desk ------------------------------------------------------------------------


class BrandStaff(models.Model):
    """A back-office user who works for one brand (design section 7.5, `createstaff`): they see
    and change that brand's data only. Superusers need none; staff without one see nothing."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="brand_staff"
    )
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="staff")

    class Meta:
        verbose_name = "brand staff member"
        verbose_name_plural = "brand staff"

    def __str__(self) -> str:
        return f"{self.user} ({self.brand})"


class CarrierThresholds(models.Model):
    """A carrier's own watchlist thresholds, in working hours (design section 7.5); carriers
    without a row use the defaults."""

    DEFAULT_FORGOTTEN_HOURS = 48
    DEFAULT_STALLED_HOURS = 72

    carrier = models.OneToOneField(Carrier, on_delete=models.CASCADE, related_name="thresholds")
    forgotten_hours = models.PositiveIntegerField(
        default=DEFAULT_FORGOTTEN_HOURS,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 365)],
        help_text="Label created and no carrier scan for this many working hours.",
    )
    stalled_hours = models.PositiveIntegerField(
        default=DEFAULT_STALLED_HOURS,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 365)],
        help_text="Dispatched or in transit and no event for this many working hours.",
    )

    class Meta:
        verbose_name = "carrier thresholds"
        verbose_name_plural = "carrier thresholds"

    def __str__(self) -> str:
        return f"{self.carrier}: {self.forgotten_hours} h / {self.stalled_hours} h"


# -- Credentials ---------------------------------------------------------------------------


class ApiKeyRole(models.TextChoices):
    CLIENT = "client", "Client (reads and writes one brand's consignments)"
    CARRIER = "carrier", "Carrier (posts events for its own legs)"


class ApiKeyQuerySet(models.QuerySet):
    def usable(self, now: datetime | None = None) -> ApiKeyQuerySet:
        now = now or timezone.now()
        return self.filter(active=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class ApiKey(models.Model):
    """A credential for either API. Only a hash of the secret is stored; it is shown once."""

    PREFIX = "tpk_"

    name = models.CharField(max_length=NAME_MAX, help_text="Also the legs' integrationName.")
    role = models.CharField(max_length=10, choices=ApiKeyRole.choices)
    brand = models.ForeignKey(
        Brand, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    carrier = models.ForeignKey(
        Carrier, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    # The first characters of the secret, safe to show, so staff can tell keys apart.
    prefix = models.CharField(max_length=16, editable=False)
    hashed_secret = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role="client", brand__isnull=False, carrier__isnull=True)
                    | Q(role="carrier", carrier__isnull=False, brand__isnull=True)
                ),
                name="api_key_role_binding",
                violation_error_message="a client key needs a brand and a carrier key a carrier",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(secret: str) -> str:
        # The secret carries 256 random bits, so a fast hash is as safe as a slow one here and
        # keeps authentication to a single indexed lookup.
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def new_secret(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_client(self) -> bool:
        return self.role == ApiKeyRole.CLIENT

    @property
    def is_carrier(self) -> bool:
        return self.role == ApiKeyRole.CARRIER


# -- Rate limiting -------------------------------------------------------------------------


class RateCounter(models.Model):
    """One fixed window's count for one limited thing, when no Redis is configured.

    Shared by every worker and host that uses the database, unlike per-process memory.
    """

    key = models.CharField(max_length=200, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()

    class Meta:
        # Sweeping out windows that have ended.
        indexes = [models.Index(fields=["expires_at"], name="ratecounter_expiry")]

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


# -- Outbound webhooks (design section 7.3) ------------------------------------------------


class WebhookType(models.TextChoices):
    CONSIGNMENT_CREATED = "consignment.created"
    TRACKING_UPDATED = "tracking.updated"
    STATUS_CHANGED = "consignment.status_changed"
    TEST = "webhook.test"


# What a subscription may ask for: a test is sent whenever asked, whatever it subscribed to.
SUBSCRIBABLE_TYPES = (
    WebhookType.CONSIGNMENT_CREATED,
    WebhookType.TRACKING_UPDATED,
    WebhookType.STATUS_CHANGED,
)


class WebhookSubscription(models.Model):
    """A brand's endpoint that hears about its consignments. While disabled (by staff, by a
    410 Gone, or after five days of failures) its messages are still recorded, held for
    replay, so nothing that happened in the meantime is lost."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="webhook_subscriptions")
    url = models.CharField(max_length=URL_MAX, validators=[validate_http_url])
    # Empty: every type.
    event_types = models.JSONField(default=list, blank=True)
    secret = models.CharField(max_length=100, editable=False)
    # After a rotation both secrets sign until previous_secret_until.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=TEXT_MAX, blank=True, editable=False)
    # The first failure since the last success: five days of them disable the subscription.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_utc = models.DateTimeField(default=timezone.now, editable=False)
    modified_utc = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["brand", "created_utc"]

    def __str__(self) -> str:
        return self.url

    @property
    def subscribed_types(self) -> list[str]:
        """The types delivered besides tests: those stored, every one when none is."""
        return list(self.event_types) or [str(t) for t in SUBSCRIBABLE_TYPES]

    def wants(self, webhook_type: str) -> bool:
        return (
            webhook_type == WebhookType.TEST
            or not self.event_types
            or (webhook_type in self.event_types)
        )

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign a delivery now: the new one first, the old one during its
        grace period after a rotation."""
        secrets_now = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            secrets_now.append(self.previous_secret)
        return secrets_now


class MessageState(models.TextChoices):
    PENDING = "pending"  # due at next_attempt_at
    DELIVERED = "delivered"
    FAILED = "failed"  # the retry schedule ran out
    HELD = "held"  # its subscription is disabled; kept for replay


class WebhookMessage(models.Model):
    """One message to one subscription: the row is the truth of what must be delivered (an
    outbox written in the transaction that caused it); the job queue only wakes workers. Its
    id is the `webhook-id` of every attempt and replay; its body is fixed when recorded, but for
    the events' details, which the first claim fills in from the (append-only) events."""

    id = models.CharField(primary_key=True, max_length=40, editable=False)
    # No index of its own: webhookmessage_sub and _owed lead with it, and every index is one
    # more write per message on the carrier's path.
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    consignment = models.ForeignKey(
        Consignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    type = models.CharField(max_length=40, choices=WebhookType.choices)
    body = models.TextField()
    created_utc = models.DateTimeField(default=timezone.now, editable=False)
    state = models.CharField(max_length=10, choices=MessageState.choices)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Retries so far in the current schedule (a replay starts it again).
    retries = models.PositiveSmallIntegerField(default=0)
    attempt_count = models.PositiveIntegerField(default=0)
    # A worker's claim: another worker takes the row only once the lease has run out, so a
    # worker killed mid-delivery delays the message, never loses it.
    leased_until = models.DateTimeField(null=True, blank=True, editable=False)
    lease = models.CharField(max_length=32, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The write's new events (their identities, hex, comma-separated, oldest first), until the
    # first claim writes them into the body: a batch then writes its events once, not twice.
    event_identities = models.TextField(blank=True, editable=False)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_utc"]
        indexes = [
            # What a subscription still owes (the back office's counts): delivered rows are
            # most rows and are left out.
            models.Index(
                fields=["subscription", "state"],
                name="webhookmessage_owed",
                condition=~Q(state="delivered"),
            ),
            # What is due, for the workers and the sweep; delivered rows are most rows.
            models.Index(
                fields=["next_attempt_at"],
                name="webhookmessage_due",
                condition=Q(state="pending"),
            ),
            models.Index(fields=["subscription", "created_utc"], name="webhookmessage_sub"),
            # Pruning by age.
            models.Index(fields=["created_utc"], name="webhookmessage_age"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"

    @staticmethod
    def new_id() -> str:
        return "msg_" + uuid.uuid4().hex


class WebhookAttempt(models.Model):
    """One try at delivering a message: what the endpoint answered, and how fast."""

    EXCERPT_MAX = 1024

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=TEXT_MAX, blank=True)

    class Meta:
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Wakeup(models.Model):
    """The next time a recurring task is due (the sweep) or a retry task is scheduled: one row
    per name keeps the queue from filling with copies of the same task. `token` names the
    task that owns the schedule; a task holding another token is a stale copy and stops."""

    name = models.CharField(primary_key=True, max_length=40)
    run_at = models.DateTimeField()
    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"{self.name} at {self.run_at}"


# -- Customer notifications by email (design section 7.4) -----------------------------------


class SubscriberState(models.TextChoices):
    PENDING = "pending"  # asked on the page, not yet confirmed: sent nothing but the request
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class EmailSubscriber(models.Model):
    """Someone who hears about one consignment by email: a customer who opted in on the page
    (double opt-in), or the consignment's recipient where the brand notifies recipients."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consignment = models.ForeignKey(
        Consignment, on_delete=models.CASCADE, related_name="email_subscribers"
    )
    email = models.EmailField()
    language = models.CharField(max_length=5, choices=Language.choices)
    state = models.CharField(max_length=12, choices=SubscriberState.choices)
    is_recipient = models.BooleanField(default=False, editable=False)
    created_utc = models.DateTimeField(default=timezone.now, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["consignment", "created_utc"]
        constraints = [
            models.UniqueConstraint(fields=["consignment", "email"], name="subscriber_once")
        ]
        indexes = [
            # Suppression and the back office find an address in any case.
            models.Index(Upper("email"), name="subscriber_email_ci"),
            models.Index(fields=["created_utc"], name="subscriber_age"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.state})"


class EmailKind(models.TextChoices):
    CONFIRM = "confirm"  # "please confirm": the one email before a confirmation
    UPDATE = "update"


class EmailState(models.TextChoices):
    PENDING = "pending"  # due at due_at
    SENT = "sent"
    FAILED = "failed"  # the retries ran out
    CANCELLED = "cancelled"  # unsubscribed or suppressed before it went


class OutboundEmail(models.Model):
    """One email owed to one subscriber: recorded in the transaction of the change, sent by a
    worker. Its id is the email's Message-ID, so a resend after a crash is recognisable. An
    update gathers the changes of NOTIFY_COALESCE seconds from the first (one pending update
    per subscriber: the database refuses a second) and says how things stand when it is sent."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscriber = models.ForeignKey(EmailSubscriber, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=10, choices=EmailKind.choices)
    # What moved (dispatched, out_for_delivery, delivered, delay, attempted, exception).
    triggers = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=10, choices=EmailState.choices)
    due_at = models.DateTimeField()
    created_utc = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=TEXT_MAX, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True, editable=False)
    lease = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        verbose_name = "notification email"
        ordering = ["-created_utc"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber"],
                condition=Q(state="pending", kind="update"),
                name="one_pending_update",
            )
        ]
        indexes = [
            models.Index(fields=["due_at"], name="email_due", condition=Q(state="pending")),
            models.Index(fields=["created_utc"], name="email_age"),
        ]

    def __str__(self) -> str:
        what = "confirmation" if self.kind == EmailKind.CONFIRM else "update"
        return f"{what} to {self.subscriber.email} ({self.state})"


class SuppressedAddress(models.Model):
    """An address that bounced, complained or asked never to be emailed: nothing is sent to it."""

    email = models.CharField(max_length=254, unique=True)  # lower case
    reason = models.CharField(max_length=40)
    created_utc = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "suppressed addresses"

    def __str__(self) -> str:
        return f"{self.email} ({self.reason})"
