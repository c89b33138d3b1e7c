"""Queries compiled once and run many times: the hot paths' answer to the ORM's build cost.

Building and compiling a queryset costs the page's hot paths about a millisecond of Python per
request, while the database answers the same SQL in tens of microseconds. A PreparedQuery
builds its queryset once per thread (a connection belongs to one thread) with stand-in values
it makes itself, keeps the SQL, the parameter positions of its inputs and Django's converters,
and afterwards only executes. Callers name each input's model field and never see the
stand-ins. `rows_as` turns the rows back into model instances.

An input may also be a list (`Many`, an `__in` filter): its SQL depends on the list's length,
so each length up to MANY_CACHED is compiled once; longer lists (large batches, where the
build cost is shared by many rows anyway) are compiled per call.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence

from django.db import connections
from django.db.models import Field, Model, QuerySet

MANY_CACHED = 8

_INTEGERS = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}
_TEXTS = {"CharField", "TextField", "SlugField"}
_EPOCH = dt.datetime(1971, 2, 3, 4, 5, 6, tzinfo=dt.UTC)


def _stand_in(field: Field) -> Callable[[int], object]:
    """For a field, n -> the n-th of as many distinct values of its type, none of which a real
    value or a constant in a query equals. Refuses a type it has no such values for."""
    internal = (field.target_field if field.is_relation else field).get_internal_type()
    if internal == "UUIDField":
        return lambda n: uuid.UUID(int=(0x5E471E1 << 64) + n)
    if internal in _INTEGERS:
        return lambda n: -0x5E471E1_0000 - n
    if internal in _TEXTS:
        return lambda n: f"\x00stand-in {n}"
    if internal == "DateTimeField":
        return lambda n: _EPOCH + dt.timedelta(microseconds=n)
    raise TypeError(
        f"PreparedQuery has no stand-in values for {field!r} ({internal}); "
        "inputs may be UUID, integer, text or datetime fields"
    )


class Many:
    """Declares a list input: `Many(field)`, for a `field__in=` filter."""

    def __init__(self, field: Field):
        self.field = field
        self.stand_in = _stand_in(field)


def rows_as(
    model: type[Model],
    fields: Sequence[str],
    rows: Iterable[Sequence],
    *,
    start: int = 0,
    using: str = "default",
) -> list[Model]:
    """Model instances from values_list rows: `row[start:start + len(fields)]` holds the values
    of `fields` (attnames), as if loaded by the ORM (from the database `using`)."""
    stop = start + len(fields)
    return [model.from_db(using, fields, row[start:stop]) for row in rows]


class PreparedQuery:
    """`build(**inputs)` returns the queryset (a values_list()); `rows(**values)` runs it with
    these values. Each input is declared by the model field its value is prepared by (a Many
    for a list), so values reach the database exactly as the ORM would send them:
    `PreparedQuery(build, consignment_id=Consignment._meta.pk, numbers=Many(field))`."""

    def __init__(self, build: Callable[..., QuerySet], **inputs: Field | Many):
        self.build = build
        # Inside, a single value is a list of one: one way to compile and bind both.
        self.inputs = {
            name: declared if isinstance(declared, Many) else Many(declared)
            for name, declared in inputs.items()
        }
        self.lists = {name for name, declared in inputs.items() if isinstance(declared, Many)}
        self.local = threading.local()

    def _compile(self, using: str, lengths: dict[str, int]):
        connection = connections[using]
        serial = itertools.count()  # distinct across the inputs, whatever their types
        stand_ins = {
            name: [declared.stand_in(next(serial)) for _ in range(lengths.get(name, 1))]
            for name, declared in self.inputs.items()
        }
        queryset = self.build(
            **{name: v if name in self.lists else v[0] for name, v in stand_ins.items()}
        )
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        # Each parameter's positions, found in one pass: looking each stand-in up by scanning
        # the parameters instead would cost a batch of n items n² comparisons.
        where: dict[object, list[int]] = {}
        for position, param in enumerate(params):
            where.setdefault(param, []).append(position)
        positions = {}
        for name, values in stand_ins.items():
            field = self.inputs[name].field
            positions[name] = []
            for stand_in in values:
                found = where.get(field.get_db_prep_value(stand_in, connection))
                if not found:
                    raise ValueError(f"the query does not use its input {name!r}")
                positions[name].append(found)
        converters = compiler.get_converters(
            [expression for expression, _sql, _alias in compiler.select]
        )
        return compiler, sql, list(params), positions, converters

    def _compiled(self, using: str, lengths: dict[str, int]):
        shape = (using, *sorted(lengths.items()))
        cache = getattr(self.local, "compiled", None)
        if cache is None:
            cache = self.local.compiled = {}
        compiled = cache.get(shape)
        if compiled is None:
            compiled = self._compile(using, lengths)
            if all(length <= MANY_CACHED for length in lengths.values()):
                cache[shape] = compiled
        return compiled

    def bound(self, using: str = "default", /, **values) -> tuple[object, str, list, list]:
        """(compiler, SQL, parameters, converters) for these values; a list must not be
        empty."""
        items = {name: list(v) if name in self.lists else [v] for name, v in values.items()}
        lengths = {name: len(items[name]) for name in self.lists}
        for name, length in lengths.items():
            if not length:
                raise ValueError(f"the list input {name!r} is empty")
        compiler, sql, params, positions, converters = self._compiled(using, lengths)
        connection = connections[using]
        params = list(params)
        for name, given in items.items():
            field = self.inputs[name].field
            for item, item_positions in zip(given, positions[name], strict=True):
                prepared = field.get_db_prep_value(item, connection)
                for position in item_positions:
                    params[position] = prepared
        return compiler, sql, params, converters

    def rows(self, using: str = "default", /, **values) -> list[tuple]:
        compiler, sql, params, converters = self.bound(using, **values)
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:
            rows = list(compiler.apply_converters(rows, converters))
        return rows
