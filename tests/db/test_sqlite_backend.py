"""The SQLite backend remembers how it rewrote each statement, and rewrites exactly as Django."""

import uuid

import pytest
from django.db import connection
from django.db.backends.sqlite3 import base as django_sqlite
from django.db.backends.sqlite3.base import SQLiteCursorWrapper as DjangoCursor

from tracking.db.sqlite3.base import CACHED_LENGTH, SQLiteCursorWrapper

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite backend"),
]

STATEMENTS = [
    "SELECT %s",
    "SELECT %s, %s FROM t WHERE a = %s",
    "SELECT '%%s' || %s WHERE x LIKE '10%%'",
    "SELECT %%%s",
    "SELECT 1",
    "SELECT " + ", ".join(["%s"] * (CACHED_LENGTH // 2)),  # too long to keep
]


def _cursors():
    connection.ensure_connection()
    return (
        connection.connection.cursor(factory=SQLiteCursorWrapper),
        connection.connection.cursor(factory=DjangoCursor),
    )


def test_the_project_runs_on_it():
    with connection.cursor() as cursor:
        assert isinstance(cursor.cursor, SQLiteCursorWrapper)


@pytest.mark.parametrize("statement", STATEMENTS)
def test_a_statement_is_rewritten_as_django_would(statement):
    ours, djangos = _cursors()
    assert ours.convert_query(statement) == djangos.convert_query(statement)
    assert ours.convert_query(statement) == djangos.convert_query(statement)  # remembered


def test_named_parameters_are_left_to_django():
    ours, djangos = _cursors()
    statement = "SELECT %(a)s, %(b)s"
    assert ours.convert_query(statement, param_names=["a", "b"]) == "SELECT :a, :b"


class CountingPattern:
    """Django's placeholder pattern, counting the statements it rewrites."""

    def __init__(self, pattern):
        self.pattern, self.rewritten = pattern, []

    def sub(self, replacement, statement):
        self.rewritten.append(statement)
        return self.pattern.sub(replacement, statement)


def test_a_statement_is_rewritten_once_and_a_long_one_every_time(monkeypatch):
    pattern = CountingPattern(django_sqlite.FORMAT_QMARK_REGEX)
    monkeypatch.setattr(django_sqlite, "FORMAT_QMARK_REGEX", pattern)
    ours, _djangos = _cursors()
    name = f"never_seen_{uuid.uuid4().hex}"  # not kept already, by an earlier run in this process
    statement = f"SELECT %s AS {name}"
    for _ in range(3):
        assert ours.convert_query(statement) == f"SELECT ? AS {name}"
    assert pattern.rewritten == [statement]

    long = STATEMENTS[-1]
    assert len(long) > CACHED_LENGTH
    for _ in range(2):
        ours.convert_query(long)
    assert pattern.rewritten == [statement, long, long]


def test_statements_run_with_their_parameters():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s, '100%%', %s", [1, "two"])
        assert cursor.fetchone() == (1, "100%", "two")
        cursor.execute("SELECT %s, '100%%', %s", [3, "four"])
        assert cursor.fetchone() == (3, "100%", "four")
