"""On PostgreSQL, triggers announce API key changes for tracking.db.changes, so each worker can
remember the keys it has looked up: each key row changed or deleted names its hashed secret on
the channel (after "key:"), each carrier change says "forget everything", as brand changes do
(migration 0006).

A change of last_used alone is not announced: it is advisory, written at most once a minute
per key, and nothing remembered depends on it. A trigger rather than the services, so that no
way of writing (the back office, a script) can leave a revoked key usable. Nothing on SQLite,
which cannot listen.
"""

from django.db import migrations

CREATE = [
    """CREATE FUNCTION tracking_announce_api_key() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND to_jsonb(NEW) - 'last_used' = to_jsonb(OLD) - 'last_used' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('tracking_changes', 'key:' || OLD.hashed_secret);
    IF TG_OP = 'UPDATE' AND NEW.hashed_secret <> OLD.hashed_secret THEN
        PERFORM pg_notify('tracking_changes', 'key:' || NEW.hashed_secret);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql""",
    """CREATE TRIGGER tracking_api_key_announce
    AFTER UPDATE OR DELETE ON tracking_apikey
    FOR EACH ROW EXECUTE FUNCTION tracking_announce_api_key()""",
    """CREATE TRIGGER tracking_carrier_announce
    AFTER UPDATE OR DELETE ON tracking_carrier
    FOR EACH STATEMENT EXECUTE FUNCTION tracking_announce_brand()""",
]

DROP = [
    "DROP TRIGGER IF EXISTS tracking_carrier_announce ON tracking_carrier",
    "DROP TRIGGER IF EXISTS tracking_api_key_announce ON tracking_apikey",
    "DROP FUNCTION IF EXISTS tracking_announce_api_key()",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("tracking", "0007_brand_revision")]

    operations = [migrations.RunPython(create, drop)]
