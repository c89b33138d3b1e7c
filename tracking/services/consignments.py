"""Creating a consignment with its packages, and the references that name them.

A reference is the one value a new row can clash on, with any brand's, so the refusal of a
reference in use is worded once here, whether the check or the database's constraint finds it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from tracking.fields import canonical_reference
from tracking.models import (
    NAME_MAX,
    POSTCODE_MAX,
    REFERENCE_MAX,
    TEXT_MAX,
    Brand,
    Consignment,
    Package,
    new_reference,
)
from tracking.services import webhooks
from tracking.services.checks import check_country, check_length, check_reference

REFERENCE_ATTEMPTS = 8


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
    check_length("destination_postcode", destination_postcode, POSTCODE_MAX)
    check_length("destination_town", destination_town, NAME_MAX)
    check_length("destination_address", destination_address, NAME_MAX)
    check_length("recipient_name", recipient_name, NAME_MAX)
    destination_country = destination_country.strip().upper()
    if destination_country:
        check_country("destination_country", destination_country)
    if recipient_email:
        try:
            validate_email(recipient_email)
        except ValidationError:
            raise ValidationError({"recipient_email": "must be an email address"}) from None

    wanted = [canonical_reference(spec.reference) for spec in packages if spec.reference]
    if len(set(wanted)) != len(wanted):
        raise ValidationError({"packages": "package references must be unique"})
    for index, spec in enumerate(packages):
        check_length(f"packages[{index}].description", spec.description, TEXT_MAX)
        if spec.reference:
            check_reference(
                f"packages[{index}].reference", canonical_reference(spec.reference), "EP"
            )
    if reference:
        reference = canonical_reference(reference)
        check_reference("reference", reference, "EC")

    # A reference held by any brand is refused, and only the first one found is named: each
    # refusal tells the caller that someone holds it, so callers count them as lookups (the
    # code "reference_in_use" marks them) and one request learns one fact at most.
    if wanted:
        taken = set(
            Package.objects.filter(reference__in=wanted).values_list("reference", flat=True)
        )
        for index, spec in enumerate(packages):
            if spec.reference and (canonical := canonical_reference(spec.reference)) in taken:
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
    rows = [
        _insert_with_reference(
            f"packages[{sequence - 1}].reference",
            Package(
                consignment=consignment,
                reference=canonical_reference(spec.reference or ""),
                description=spec.description,
                sequence=sequence,
            ),
            "EP",
        )
        for sequence, spec in enumerate(packages, start=1)
    ]
    webhooks.record_created(consignment, rows)
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
