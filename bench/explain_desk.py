"""The plans of the support desk's consignment search, one per kind of term (design §7.5).

    DATABASE_URL=sqlite:///bench.sqlite3 python bench/explain_desk.py
    DATABASE_URL=postgres://... python bench/explain_desk.py

Runs against a database filled by bench/build_data.py (a million consignments, say). For each
kind a support agent searches by (consignment reference, package reference, order number,
tracking number, recipient name, email, postcode) it builds the changelist's queryset as the
back office does (tracking.admin.search on Consignment.objects) and prints the statement's plan:
SQLite's EXPLAIN QUERY PLAN or PostgreSQL's EXPLAIN, after ANALYZE. Every kind should read an
index (SEARCH ... USING INDEX / Index Scan), never scan the consignments.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from tracking.admin.search import search_consignments  # noqa: E402
from tracking.models import Consignment, Package, TrackingRecord  # noqa: E402


def terms() -> dict[str, str]:
    """One real term of each kind, taken from the typical consignment of build_data.py (or
    whichever consignment has a leg), typed the way a customer would say it."""
    consignment = (
        Consignment.objects.filter(reference="EC-BEN-000-001").first()
        or Consignment.objects.filter(legs__isnull=False).first()
    )
    if consignment is None:
        sys.exit("No consignments: fill the database with bench/build_data.py first.")
    package = Package.objects.filter(consignment=consignment).first()
    leg = TrackingRecord.objects.filter(consignment=consignment).first()
    return {
        "consignment reference": consignment.reference.lower(),
        "package reference": package.reference.lower() if package else "EP-000-000-000",
        "order number": (consignment.customer_reference or "ORDER-1").lower(),
        "tracking number": leg.tracking_number.lower() if leg else "BENCH1",
        "recipient name": (consignment.recipient_name or "Alex Morgan").upper(),
        "email": consignment.recipient_email or "alex.morgan@example.com",
        "postcode": (consignment.destination_postcode or "BS1 4DJ").lower().replace(" ", "  "),
    }


def plan(sql: str, params) -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return [f"{'  ' * 0}{row[3]}" for row in cursor.fetchall()]
        cursor.execute(f"EXPLAIN {sql}", params)
        return [row[0] for row in cursor.fetchall()]


def main() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    count = Consignment.objects.count()
    print(f"{connection.vendor}: {count} consignments")
    for kind, term in terms().items():
        queryset = search_consignments(Consignment.objects.select_related("brand"), term)
        # The changelist's page of rows: the same statement with its LIMIT.
        sql, params = queryset[:100].query.sql_with_params()
        found = queryset.count()
        print(f"\n== {kind}: q={term!r} ({found} found)")
        for line in plan(sql, params):
            print(f"   {line}")


if __name__ == "__main__":
    main()
