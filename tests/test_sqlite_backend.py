"""The SQLite backend remembers how it rewrote each statement, and rewrites exactly as Django."""

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import SQLiteCursorWrapper as DjangoCursor

from config.sqlite3.base import CACHED_LENGTH, SQLiteCursorWrapper, _cached_qmark

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


def test_a_statement_is_rewritten_once_and_a_long_one_every_time():
    ours, _djangos = _cursors()
    statement = "SELECT %s AS remembered_once"
    ours.convert_query(statement)
    hits = _cached_qmark.cache_info().hits
    ours.convert_query(statement)
    assert _cached_qmark.cache_info().hits == hits + 1

    size = _cached_qmark.cache_info().currsize
    ours.convert_query(STATEMENTS[-1])
    assert _cached_qmark.cache_info().currsize == size


def test_statements_run_with_their_parameters():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s, '100%%', %s", [1, "two"])
        assert cursor.fetchone() == (1, "100%", "two")
        cursor.execute("SELECT %s, '100%%', %s", [3, "four"])
        assert cursor.fetchone() == (3, "100%", "four")
