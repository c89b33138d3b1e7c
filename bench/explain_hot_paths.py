"""PostgreSQL's plan for every statement the hot paths run, as JSON.

    DATABASE_URL=postgres://... python bench/explain_hot_paths.py --reference EC-BEN-000-001 \
        --consignment-id UUID --client-key KEY --carrier-key KEY

Run by bench/scale_bench.py against its large database. It sends the tracking page, its live
region (changed, then unchanged: a 304), both API reads and a one-event carrier batch through
Django's test client, with the URLs and headers real clients send, and records every statement
each request runs. Nothing of tracking/ is imported: the statements explained are the ones the
code runs today, wherever it keeps them. The workers' memory of recent pages (TIMELINE_MEMO) is
off, so every path reads the database. The statements are explained (planned, not run) in the
same transaction as the requests, which is then rolled back, so the batch's event is not kept.
The database is analysed first. Prints each request's status beside the one expected, each
statement with its plan, and each table's rows as the planner estimates them (pg_class.reltuples).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

import django
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

ROOT = Path(__file__).resolve().parent.parent
# Statements EXPLAIN accepts; savepoints and the like have no plan.
EXPLAINABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
# bench/build_data.py's first filler consignment: its linehaul leg and first package.
CARRIER, LEG, PACKAGE = "BENCH_LINEHAUL", "T0-0", "EP-000-000-000"


def client_host() -> str:
    """A Host the settings accept (the test client's "testserver" is not one)."""
    for host in settings.ALLOWED_HOSTS:
        if host != "*":
            return host.lstrip(".")
    return "localhost"


def record(client: Client, name: str, expected: int, method: str, path: str, **kwargs):
    """One request, with the statements it ran; (report, response)."""
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(path, secure=True, **kwargs)
    statements = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"] and query["sql"].lstrip().upper().startswith(EXPLAINABLE)
    ]
    report = {
        "name": name,
        "request": f"{method.upper()} {path}",
        "status": response.status_code,
        "expected": expected,
        "statements": statements,
    }
    return report, response


def carrier_batch() -> str:
    moment = dt.datetime.now(dt.UTC).isoformat()
    event = {"TimeStamp": moment, "Code": "IN_TRANSIT", "Description": f"explain {moment}"}
    item = {
        "ConsignmentTrackingReference": LEG,
        "PackageTrackingEvents": [{"PackageReference": PACKAGE, "TrackingEvents": [event]}],
    }
    return json.dumps({"CarrierReference": CARRIER, "ConsignmentTrackingEvents": [item]})


def hot_paths(client: Client, args: argparse.Namespace) -> list[dict]:
    page = f"/track/{args.reference}/"
    language = {"Accept-Language": "en"}
    reports = []
    reports.append(record(client, "tracking page", 200, "get", page, headers=language)[0])
    live = {**language, "HX-Request": "true"}
    report, response = record(client, "live region, changed", 200, "get", page, headers=live)
    reports.append(report)
    poll = {**live, "If-None-Match": response.headers.get("ETag", "")}
    reports.append(record(client, "live region, unchanged", 304, "get", page, headers=poll)[0])
    sorted_key = {"ocp-apim-subscription-key": args.client_key}
    path = f"/tracking/{args.reference}"
    reports.append(record(client, "GET /tracking/{ref}", 200, "get", path, headers=sorted_key)[0])
    bearer = {"Authorization": f"Bearer {args.client_key}"}
    path = f"/v1/consignments/{args.consignment_id}"
    reports.append(record(client, "GET /v1/consignments/{id}", 200, "get", path, headers=bearer)[0])
    report, _response = record(
        client,
        "carrier batch of one event",
        200,
        "post",
        "/tracking/carrierevents",
        data=carrier_batch(),
        content_type="application/json",
        headers={"ocp-apim-subscription-key": args.carrier_key},
    )
    reports.append(report)
    return reports


def explain(reports: list[dict]) -> dict:
    with connection.cursor() as cursor:
        for report in reports:
            planned = []
            for sql in report["statements"]:
                cursor.execute("EXPLAIN " + sql)
                planned.append({"sql": sql, "plan": [row[0] for row in cursor.fetchall()]})
            report["statements"] = planned
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class"
            " WHERE relkind = 'r' AND pg_table_is_visible(oid)"
        )
        sizes = dict(cursor.fetchall())
    return {"requests": reports, "sizes": sizes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="the typical consignment's")
    parser.add_argument("--consignment-id", required=True)
    parser.add_argument("--client-key", required=True, help="a brand's API key")
    parser.add_argument("--carrier-key", required=True, help=f"{CARRIER}'s API key")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Without the workers' memory of recent pages every path reads the database, as it does
    # for a consignment a worker has not shown yet: those are the statements to explain.
    os.environ["TIMELINE_MEMO"] = "0"
    django.setup()
    if connection.vendor != "postgresql":
        raise SystemExit("EXPLAIN here reads PostgreSQL's plans: DATABASE_URL must name one")
    with connection.cursor() as cursor:
        # Fresh statistics, so the plans and the table sizes are those of the data as it is
        # now, not as it was when autovacuum last came by (ANALYZE samples: seconds, not
        # minutes, at ten million rows).
        cursor.execute("ANALYZE")
    client = Client(HTTP_HOST=client_host())
    with transaction.atomic():
        explained = explain(hot_paths(client, args))
        transaction.set_rollback(True)
    print(json.dumps(explained))


if __name__ == "__main__":
    main()
