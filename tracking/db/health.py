"""Whether the database answers: the one raw statement the health check needs."""

from django.db import connection


def database_answers() -> bool:
    """True when a trivial statement round-trips; raises whatever the driver raises otherwise."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)
