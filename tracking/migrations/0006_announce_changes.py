"""On PostgreSQL, triggers announce changes for tracking.db.changes: each consignment row changed
or deleted names its reference on the channel, each brand change says "forget everything".

A trigger rather than the services, so that no way of writing (the back office, a script, a
future service) can leave a remembered page behind. Nothing on SQLite, which cannot listen.
"""

from django.db import migrations

CREATE = [
    """CREATE FUNCTION tracking_announce_consignment() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('tracking_changes', OLD.reference);
    IF TG_OP = 'UPDATE' AND NEW.reference <> OLD.reference THEN
        PERFORM pg_notify('tracking_changes', NEW.reference);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql""",
    """CREATE TRIGGER tracking_consignment_announce
    AFTER UPDATE OR DELETE ON tracking_consignment
    FOR EACH ROW EXECUTE FUNCTION tracking_announce_consignment()""",
    """CREATE FUNCTION tracking_announce_brand() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('tracking_changes', '*');
    RETURN NULL;
END
$$ LANGUAGE plpgsql""",
    """CREATE TRIGGER tracking_brand_announce
    AFTER UPDATE OR DELETE ON tracking_brand
    FOR EACH STATEMENT EXECUTE FUNCTION tracking_announce_brand()""",
]

DROP = [
    "DROP TRIGGER IF EXISTS tracking_brand_announce ON tracking_brand",
    "DROP FUNCTION IF EXISTS tracking_announce_brand()",
    "DROP TRIGGER IF EXISTS tracking_consignment_announce ON tracking_consignment",
    "DROP FUNCTION IF EXISTS tracking_announce_consignment()",
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
    dependencies = [("tracking", "0005_validators_end_of_text")]

    operations = [migrations.RunPython(create, drop)]
