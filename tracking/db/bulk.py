"""The event write path's statements: the consignment locks, the status rows to derive from,
one INSERT for a batch of events and one UPDATE per table for the statuses it moves.

Each is written for what a batch of thousands costs: prepared queries (tracking.db.prepared)
for the reads; on PostgreSQL the events travel as one array per column (unnest) and the updates
as one typed VALUES list; on SQLite both go as chunks of placeholders, with values adapted as
Django would adapt them but without the field API's cost per value.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import NamedTuple

from django.db import connection
from django.db.models import Model

from tracking.db.prepared import Many, PreparedQuery
from tracking.models import DERIVED_COLUMNS, Consignment, Package, TrackingEvent, TrackingRecord

# What a leg's or package's status was derived from: the rows of leg_statuses and
# package_statuses start with these.
STATUS_FIELDS = ("id", "consignment_id", *DERIVED_COLUMNS)

# What the outbox says of a consignment (and the status it had before the write).
HEAD_FIELDS = ("brand_id", "reference", "customer_reference", "status", "warning")


class Head(NamedTuple):
    brand_id: int
    reference: str
    customer_reference: str
    status: int
    warning: int


_LOCK_CONSIGNMENTS = PreparedQuery(
    lambda ids: (
        Consignment.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "revision", "last_event_at", "first_scan_at", *HEAD_FIELDS)
    ),
    ids=Many(Consignment._meta.pk),
)
_LEG_STATUSES = PreparedQuery(
    lambda ids: (
        TrackingRecord.objects.filter(pk__in=ids)
        .order_by()
        .values_list(*STATUS_FIELDS, "packages__id")
    ),
    ids=Many(TrackingRecord._meta.pk),
)
_PACKAGE_STATUSES = PreparedQuery(
    lambda consignment_ids: (
        Package.objects.filter(consignment_id__in=consignment_ids)
        .order_by()
        .values_list(*STATUS_FIELDS)
    ),
    consignment_ids=Many(Consignment._meta.pk),
)


def lock_consignments(ids: Sequence) -> tuple[dict, dict, dict]:
    """Lock these consignments (in id order, so two writers cannot deadlock): {id: revision},
    {id: (last_event_at, first_scan_at)} and {id: Head} as they stand before the write."""
    rows = _LOCK_CONSIGNMENTS.rows(ids=ids)
    return (
        {row[0]: row[1] for row in rows},
        {row[0]: (row[2], row[3]) for row in rows},
        {row[0]: Head(*row[4:]) for row in rows},
    )


def leg_statuses(leg_ids) -> list[tuple]:
    """For each leg, rows of (*STATUS_FIELDS, id of a package it lists or None): one row per
    package listed, one row with None when it lists none (it carries every package)."""
    return _LEG_STATUSES.rows(ids=leg_ids)


def package_statuses(consignment_ids) -> list[tuple]:
    """The STATUS_FIELDS of every package of these consignments."""
    return _PACKAGE_STATUSES.rows(consignment_ids=consignment_ids)


def insert_events(rows: Sequence[NamedTuple]) -> set[uuid.UUID]:
    """Insert the events not stored yet, in one statement; returns the identities inserted.
    `rows` are named tuples whose fields are TrackingEvent's attnames (identity among them).

    ON CONFLICT DO NOTHING RETURNING tells us which rows were new without a separate look-up,
    and on PostgreSQL the rows travel as one array per column (unnest), which parses far
    faster than thousands of placeholders.
    """
    if not rows:
        return set()
    names = tuple(rows[0]._fields)
    inserted = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = [list(column) for column in zip(*rows, strict=True)]
            cursor.execute(_insert_sql(connection.vendor, names, 1), columns)
            return {row[0] for row in cursor.fetchall()}
        adapters = _sqlite_adapters(tuple(_insert_fields(names)))
        for start in range(0, len(rows), 2000):  # SQLite takes at most 32,766 parameters
            chunk = rows[start : start + 2000]
            cursor.execute(
                _insert_sql(connection.vendor, names, len(chunk)),
                [adapt(value) for row in chunk for adapt, value in zip(adapters, row, strict=True)],
            )
            inserted.update(uuid.UUID(value) for (value,) in cursor.fetchall())
    return inserted


def insert_rows(model: type[Model], names: tuple[str, ...], rows: Sequence[tuple]) -> None:
    """Insert new rows of `model` (tuples of values in `names` order, attnames), as
    insert_events does: on PostgreSQL one statement of binary arrays, on SQLite chunks of
    placeholders, without building model instances (a batch's webhook messages: Django's
    bulk_create sent their JSON bodies as text arrays, whose quoting cost more than the rest
    of the outbox together)."""
    if not rows:
        return
    fields = tuple(model._meta.get_field(name) for name in names)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = [list(column) for column in zip(*rows, strict=True)]
            cursor.execute(_rows_sql(connection.vendor, model, names, 1), columns)
            return
        adapters = _sqlite_adapters(fields)
        per_chunk = max(1, 30_000 // len(names))
        for start in range(0, len(rows), per_chunk):
            chunk = rows[start : start + per_chunk]
            cursor.execute(
                _rows_sql(connection.vendor, model, names, len(chunk)),
                [adapt(value) for row in chunk for adapt, value in zip(adapters, row, strict=True)],
            )


@functools.lru_cache(maxsize=64)
def _rows_sql(vendor: str, model, names: tuple[str, ...], count: int) -> str:
    ops = connection.ops
    fields = [model._meta.get_field(name) for name in names]
    table = ops.quote_name(model._meta.db_table)
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    if vendor == "postgresql":
        binary = connection.settings_dict["OPTIONS"].get("server_side_binding")
        mark = "%b" if binary else "%s"
        arrays = ", ".join(f"{mark}::{f.cast_db_type(connection)}[]" for f in fields)
        return f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})"
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_marks] * count)}"


def set_columns(model: type[Model], fields: Sequence[str], rows: Sequence[tuple]) -> None:
    """Give many rows each its own values: `rows` are (pk, *values in `fields` order).

    One UPDATE ... FROM (VALUES ...) per 500 rows (PostgreSQL, and SQLite 3.33+). Django's
    bulk_update builds a CASE per field and row in Python, which cost more than the rest of a
    1,000-event batch together.
    """
    if not rows:
        return
    targets = _set_targets(model, tuple(fields))
    postgres = connection.vendor == "postgresql"
    adapters = None if postgres else _sqlite_adapters(tuple(targets))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            if postgres:
                # psycopg adapts UUIDs, datetimes and dates itself, and the casts type them.
                params = [value for row in chunk for value in row]
            else:
                params = [
                    adapt(value)
                    for row in chunk
                    for adapt, value in zip(adapters, row, strict=True)
                ]
            sql = _set_sql(connection.vendor, model, tuple(fields), len(chunk))
            cursor.execute(sql, params)


@functools.cache
def _sqlite_adapters(fields: tuple) -> tuple:
    """For each field, a function giving what field.get_db_prep_save gives on SQLite, for the
    values the bulk statements send (UUIDs, aware datetimes, dates, numbers and text).

    A 5,000-event batch sends some 125,000 values; through the field API they cost about half
    of the Python time its transaction holds SQLite's write lock."""
    ops = connection.ops

    def uuid_hex(value):
        return None if value is None else value.hex

    def same(value):
        return value

    def adapter(field):
        internal = (field.target_field if field.is_relation else field).get_internal_type()
        return {
            "UUIDField": uuid_hex,
            "DateTimeField": ops.adapt_datetimefield_value,
            "DateField": ops.adapt_datefield_value,
        }.get(internal, same)

    return tuple(adapter(field) for field in fields)


@functools.cache
def _insert_fields(names: tuple[str, ...]) -> list:
    return [TrackingEvent._meta.get_field(name) for name in names]


@functools.lru_cache(maxsize=64)
def _insert_sql(vendor: str, names: tuple[str, ...], count: int) -> str:
    """The INSERT of `count` events (PostgreSQL: of arrays, whatever their length)."""
    meta, ops, fields = TrackingEvent._meta, connection.ops, _insert_fields(names)
    table = ops.quote_name(meta.db_table)
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    identity = ops.quote_name(meta.get_field("identity").column)
    if vendor == "postgresql":
        # %b sends each array in psycopg's binary format: the text format quotes every
        # element through a regular expression, which cost a 1,000-event batch a third of its
        # Python time. Binding on the client (PGBOUNCER=1) has text only.
        binary = connection.settings_dict["OPTIONS"].get("server_side_binding")
        mark = "%b" if binary else "%s"
        arrays = ", ".join(f"{mark}::{f.cast_db_type(connection)}[]" for f in fields)
        return (
            f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT DO NOTHING RETURNING {identity}"
        )
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return (
        f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_marks] * count)} "
        f"ON CONFLICT DO NOTHING RETURNING {identity}"
    )


@functools.cache
def _set_targets(model, fields: tuple[str, ...]) -> list:
    return [model._meta.pk, *(model._meta.get_field(name) for name in fields)]


@functools.lru_cache(maxsize=256)
def _set_sql(vendor: str, model, fields: tuple[str, ...], count: int) -> str:
    ops, targets = connection.ops, _set_targets(model, fields)
    columns = [ops.quote_name(target.column) for target in targets]
    table, key = ops.quote_name(model._meta.db_table), columns[0]
    assignments = ", ".join(f"{column} = v.{column}" for column in columns[1:])
    if vendor == "postgresql":
        # VALUES has no types of its own in PostgreSQL: cast each to its column's type.
        row_marks = "(" + ", ".join(f"%s::{t.cast_db_type(connection)}" for t in targets) + ")"
        return (
            f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row_marks] * count)}) "
            f"AS v({', '.join(columns)}) WHERE {table}.{key} = v.{key}"
        )
    row_marks = "(" + ", ".join(["%s"] * len(targets)) + ")"
    return (
        f"WITH v({', '.join(columns)}) AS (VALUES {', '.join([row_marks] * count)}) "
        f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{key} = v.{key}"
    )
