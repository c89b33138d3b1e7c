"""Queries compiled once and run many times: the hot paths' answer to the ORM's build cost.

Building and compiling a queryset costs the page's hot paths about a millisecond of Python per
request (the 304 answer to a poll would spend over half its time there), while the database
answers the same SQL in tens of microseconds. A PreparedQuery builds its queryset once per
thread (a connection belongs to one thread), keeps the SQL, the parameter positions of its
inputs and Django's converters, and afterwards only executes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections
from django.db.models import Field, QuerySet


class PreparedQuery:
    """`build(**sentinels)` returns the queryset (a values_list()); `rows(**values)` runs it
    with real values in place of the sentinels. Each input names the model field its value is
    prepared by, so values reach the database exactly as the ORM would send them."""

    def __init__(self, build: Callable[..., QuerySet], **inputs: tuple[Field, object]):
        self.build = build
        self.inputs = inputs  # name -> (field, a sentinel no real value equals)
        self.local = threading.local()

    def _compiled(self, using: str):
        compiled = getattr(self.local, using, None)
        if compiled is None:
            sentinels = {name: sentinel for name, (_field, sentinel) in self.inputs.items()}
            queryset = self.build(**sentinels)
            compiler = queryset.query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            connection = connections[using]
            positions = {}
            for name, (field, sentinel) in self.inputs.items():
                prepared = field.get_db_prep_value(sentinel, connection)
                positions[name] = [i for i, param in enumerate(params) if param == prepared]
                if not positions[name]:
                    raise ValueError(f"the query does not use its input {name!r}")
            converters = compiler.get_converters(
                [expression for expression, _sql, _alias in compiler.select]
            )
            compiled = (compiler, sql, list(params), positions, converters)
            setattr(self.local, using, compiled)
        return compiled

    def rows(self, using: str = "default", /, **values) -> list[tuple]:
        compiler, sql, params, positions, converters = self._compiled(using)
        connection = connections[using]
        params = list(params)
        for name, value in values.items():
            field = self.inputs[name][0]
            prepared = field.get_db_prep_value(value, connection)
            for position in positions[name]:
                params[position] = prepared
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:
            rows = list(compiler.apply_converters(rows, converters))
        return rows
