"""The consignment list as CSV: whatever the changelist shows (its filters, search and order,
within the user's brand), every row rather than one page, streamed a chunk at a time.

Columns are what a support team works from: references, the order number, the readable status,
the recipient's name, email and postcode (staff see them on every consignment page anyway), the
destination town and country, the carriers and their tracking numbers, and the dates. The
street address is left out: a spreadsheet travels further than the back office. Cells a
spreadsheet would run as a formula (starting with =, +, -, @) are prefixed with a quote.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.db.models import Prefetch, QuerySet

from tracking.admin.display import status_text
from tracking.models import Consignment, Package, TrackingRecord

HEADER = [
    "Reference",
    "Brand",
    "Order number",
    "Status",
    "Recipient",
    "Email",
    "Postcode",
    "Town",
    "Country",
    "Expected delivery",
    "Packages",
    "Carriers",
    "Tracking numbers",
    "Created (UTC)",
    "Last event (UTC)",
    "Delivered (UTC)",
]
CHUNK = 500
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _row(consignment: Consignment) -> list[str]:
    legs = consignment.legs.all()
    return [
        _cell(value)
        for value in (
            consignment.reference,
            consignment.brand.slug,
            consignment.customer_reference,
            status_text(consignment.status, consignment.warning),
            consignment.recipient_name,
            consignment.recipient_email,
            consignment.destination_postcode,
            consignment.destination_town,
            consignment.destination_country,
            consignment.expected_delivery_date,
            " ".join(p.reference for p in consignment.packages.all()),
            "; ".join(dict.fromkeys(leg.carrier_name for leg in legs if leg.carrier_name)),
            " ".join(leg.tracking_number for leg in legs if leg.tracking_number),
            consignment.created_utc,
            consignment.last_event_at,
            consignment.delivered_at,
        )
    ]


def rows(queryset: QuerySet) -> Iterable[Consignment]:
    """The consignments with what the columns need, in chunks (one query for each chunk's
    consignments, one for their packages and one for their legs)."""
    return (
        queryset.select_related("brand")
        .prefetch_related(
            Prefetch("packages", queryset=Package.objects.only("id", "consignment", "reference")),
            Prefetch(
                "legs",
                queryset=TrackingRecord.objects.only(
                    "id", "consignment", "carrier_name", "tracking_number", "sequence"
                ),
            ),
        )
        .iterator(chunk_size=CHUNK)
    )


def csv_lines(queryset: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(HEADER)  # the BOM tells spreadsheets it is UTF-8
    for consignment in rows(queryset):
        yield writer.writerow(_row(consignment))
