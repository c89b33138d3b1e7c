"""The bulk statements' SQL as each way of binding parameters needs it."""

import pytest
from django.db import connection

from tests.factories import postgres_only
from tracking.db import bulk


@postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize(("server_side", "mark"), [(True, "%b::"), (False, "%s::")])
def test_event_arrays_travel_binary_only_where_the_server_binds_them(
    monkeypatch, server_side, mark
):
    # Binding on the client (PGBOUNCER=1) cannot send binary parameters.
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", {"server_side_binding": server_side})
    bulk._insert_sql.cache_clear()
    try:
        sql = bulk._insert_sql("postgresql", ("tracking_record_id", "identity"), 1)
    finally:
        bulk._insert_sql.cache_clear()
    assert sql.count(mark) == 2
    assert "unnest(" in sql
