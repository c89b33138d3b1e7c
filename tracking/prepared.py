"""Queries compiled once and run many times: the hot paths' answer to the ORM's build cost.

Building and compiling a queryset costs the page's hot paths about a millisecond of Python per
request (the 304 answer to a poll would spend over half its time there), while the database
answers the same SQL in tens of microseconds. A PreparedQuery builds its queryset once per
thread (a connection belongs to one thread), keeps the SQL, the parameter positions of its
inputs and Django's converters, and afterwards only executes.

An input may also be a list (an `__in` filter): its SQL depends on the list's length, so each
length up to MANY_CACHED is compiled once; longer lists (large batches, where the build cost is
shared by many rows anyway) are compiled per call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections
from django.db.models import Field, QuerySet

MANY_CACHED = 8


class Many:
    """Declares a list input: `Many(field, sentinel)` where sentinel(i) is the i-th of as many
    distinct values, none of which a real value equals."""

    def __init__(self, field: Field, sentinel: Callable[[int], object]):
        self.field = field
        self.sentinel = sentinel


def _one(field: Field, sentinel: object) -> Many:
    return Many(field, lambda _i: sentinel)


class PreparedQuery:
    """`build(**sentinels)` returns the queryset (a values_list()); `rows(**values)` runs it
    with real values in place of the sentinels. Each input names the model field its value is
    prepared by, so values reach the database exactly as the ORM would send them: a
    `(field, sentinel)` pair for a single value, a Many for a list."""

    def __init__(self, build: Callable[..., QuerySet], **inputs: tuple[Field, object] | Many):
        self.build = build
        # Inside, a single value is a list of one: one way to compile and bind both.
        self.inputs = {
            name: declared if isinstance(declared, Many) else _one(*declared)
            for name, declared in inputs.items()
        }
        self.lists = {name for name, declared in inputs.items() if isinstance(declared, Many)}
        self.local = threading.local()

    def _compile(self, using: str, lengths: dict[str, int]):
        connection = connections[using]
        sentinels = {
            name: [declared.sentinel(i) for i in range(lengths.get(name, 1))]
            for name, declared in self.inputs.items()
        }
        queryset = self.build(
            **{name: v if name in self.lists else v[0] for name, v in sentinels.items()}
        )
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        # Each parameter's positions, found in one pass: looking each sentinel up by scanning
        # the parameters instead would cost a batch of n items n² comparisons.
        where: dict[object, list[int]] = {}
        for position, param in enumerate(params):
            where.setdefault(param, []).append(position)
        positions = {}
        for name, values in sentinels.items():
            field = self.inputs[name].field
            positions[name] = []
            for sentinel in values:
                found = where.get(field.get_db_prep_value(sentinel, connection))
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
