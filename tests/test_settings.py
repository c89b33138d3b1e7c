"""Settings come from the environment and fail loudly on values they cannot understand."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import settings as config
from tests.factories import postgres_only

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("yes", True), ("off", False), ("", False)]
)
def test_booleans(monkeypatch, raw, value):
    monkeypatch.setenv("FLAG", raw)
    assert config.env_bool("FLAG") is value


@pytest.mark.parametrize(
    ("helper", "raw"),
    [
        (lambda: config.env_bool("X"), "maybe"),
        (lambda: config.env_rate("X", "1/m"), "ten per minute"),
        (lambda: config.env_rate("X", "1/m"), "0/m"),
        (lambda: config.env_rate("X", "5/w"), "5/w"),
        (lambda: config.env_port("X", 1), "80a"),
        (lambda: config.env_port("X", 1), "70000"),
    ],
)
def test_bad_values_fail_loudly(monkeypatch, helper, raw):
    monkeypatch.setenv("X", raw)
    with pytest.raises(ImproperlyConfigured, match="X must"):
        helper()


def test_rates_are_normalised(monkeypatch):
    monkeypatch.setenv("X", " 10 / h ")
    assert config.env_rate("X", "1/m") == "10/h"


def settings_in_a_fresh_process(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "HTTPS"}}
    clean.update(env)
    code = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
    code += "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY[:4])"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_debug_is_off_and_a_secret_key_is_required_by_default():
    result = settings_in_a_fresh_process()
    assert result.returncode == 1
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_debug_on_may_run_without_a_secret_key():
    result = settings_in_a_fresh_process(DEBUG="1")
    assert result.stdout.split() == ["True", "inse"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://root@localhost/db"}, "SQLite or PostgreSQL"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL must start"),
        ({"CSRF_TRUSTED_ORIGINS": "example.com"}, "CSRF_TRUSTED_ORIGINS"),
        ({"RATE_LIMIT_POSTCODE": "lots"}, "RATE_LIMIT_POSTCODE"),
    ],
)
def test_bad_configuration_stops_the_process(env, message):
    result = settings_in_a_fresh_process(SECRET_KEY="k", **env)
    assert result.returncode == 1
    assert message in result.stderr


def test_https_turns_on_the_production_protections():
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings';"
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)"
    )
    env = {**os.environ, "SECRET_KEY": "k", "HTTPS": "1"}
    env.pop("DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.stdout.strip() == ("True 31536000 True True ('HTTP_X_FORWARDED_PROTO', 'https')")


SQLITE_CONNECTION = """
import json, os, sqlite3
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import django
django.setup()
from django.db import connection, transaction
found = {}
with connection.cursor() as cursor:
    for pragma in ("journal_mode", "synchronous", "busy_timeout", "wal_autocheckpoint"):
        cursor.execute(f"PRAGMA {pragma}")
        found[pragma] = cursor.fetchone()[0]
with transaction.atomic():
    # Nothing is written yet: only a BEGIN IMMEDIATE already holds the write lock.
    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        found["write_lock_at_begin"] = False
    except sqlite3.OperationalError as error:
        found["write_lock_at_begin"] = str(error)
print(json.dumps(found))
"""


def test_sqlite_runs_in_wal_mode_with_immediate_transactions(tmp_path):
    # A file of its own: the test database is in memory, where WAL cannot be.
    result = subprocess.run(
        [sys.executable, "-c", SQLITE_CONNECTION],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "k", "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL: safe with WAL, one fsync per checkpoint
        "busy_timeout": 20_000,
        "wal_autocheckpoint": 10_000,  # pages: a few carrier batches between checkpoints
        "write_lock_at_begin": "database is locked",
    }


@pytest.mark.parametrize(
    ("env", "remembered"),
    [
        ({"DATABASE_URL": "sqlite:///x.sqlite3"}, "True"),
        ({"DATABASE_URL": "sqlite:///x.sqlite3", "TIMELINE_MEMO": "0"}, "False"),
        ({"DATABASE_URL": "sqlite:///x.sqlite3", "PGBOUNCER": "1"}, "True"),
        ({"DATABASE_URL": "postgres://u@localhost/db"}, "True"),
        ({"DATABASE_URL": "postgres://u@localhost/db", "PGBOUNCER": "1"}, "False"),
        ({"DATABASE_URL": "postgres://u@localhost/db", "TIMELINE_MEMO": "0"}, "False"),
    ],
)
def test_pages_remember_heads_unless_pgbouncer_hides_changes_or_it_is_off(env, remembered):
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings';"
        "from django.conf import settings as s; print(s.TIMELINE_MEMO)"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {"PGBOUNCER", "TIMELINE_MEMO"}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "SECRET_KEY": "k", **env},
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == remembered, result.stderr


POSTGRES_CONNECTION = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import django
django.setup()
from django.conf import settings
from django.db import connection
from tracking.db import changes
params = connection.get_connection_params()
found = {
    "prepare_threshold": params["prepare_threshold"],
    "cursor": params["cursor_factory"].__name__,
    "memo": settings.TIMELINE_MEMO,
}
if not settings.TIMELINE_MEMO:  # asked only then: a memo would start listening at once
    found["listener"] = changes.memo() is not None
if os.environ.get("RUN_QUERIES"):
    from tracking.models import Brand
    for _ in range(5):  # past psycopg's prepare_threshold, were one set
        Brand.objects.filter(slug="nobody").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        found["prepared"] = cursor.fetchone()[0]
print(json.dumps(found))
"""


def postgres_connection(database_url: str, **env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in {"PGBOUNCER", "TIMELINE_MEMO"}}
    result = subprocess.run(
        [sys.executable, "-c", POSTGRES_CONNECTION],
        cwd=ROOT,
        env={**clean, "SECRET_KEY": "k", "DATABASE_URL": database_url, **env},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_pgbouncer_turns_off_server_side_prepares_and_the_listener():
    # Django's own default, prepare_threshold None, is what PgBouncer's transaction mode needs:
    # a statement prepared on one server connection is unknown on the next one.
    url = "postgres://u@localhost/db"
    assert postgres_connection(url, PGBOUNCER="1") == {
        "prepare_threshold": None,
        "cursor": "Cursor",  # client-side binding
        "memo": False,
        "listener": False,
    }
    assert postgres_connection(url) == {
        "prepare_threshold": 3,
        "cursor": "ServerBindingCursor",
        "memo": True,
    }


@postgres_only
def test_behind_pgbouncer_nothing_is_prepared_on_the_server(db):
    from django.db import connection

    database = connection.settings_dict  # the test database, made by pytest-django
    login = quote(database["USER"]) + (
        f":{quote(database['PASSWORD'])}" if database["PASSWORD"] else ""
    )
    url = f"postgres://{login}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"
    assert postgres_connection(url, PGBOUNCER="1", RUN_QUERIES="1")["prepared"] == 0
    # The same queries without PGBOUNCER are prepared: the count above can see them.
    assert postgres_connection(url, RUN_QUERIES="1")["prepared"] >= 1
