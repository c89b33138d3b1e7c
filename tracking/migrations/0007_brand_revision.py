"""Brand.revision, moved on by the database with every update of a brand's row.

The tracking pages' ETags and cached bodies depend on the brand (its name, logo, colours,
support links, time zone, embed origins...). Rather than list those fields in every validator,
the pages use the revision, and a trigger moves it on, so no way of writing (the back office,
a service, a script, raw SQL) can leave an old page valid. On PostgreSQL the statement is also
announced by the brand trigger of migration 0006, so the remembered heads are forgotten.

SQLite: an AFTER UPDATE trigger sets revision = OLD.revision + 1 (triggers do not fire
recursively there unless `recursive_triggers` is on, which Django never sets). PostgreSQL: a
BEFORE UPDATE trigger sets NEW.revision from OLD.revision, so a stale value written by a form
or save() can never move it backwards.
"""

from django.db import migrations, models

SQLITE_CREATE = [
    """CREATE TRIGGER tracking_brand_revision AFTER UPDATE ON tracking_brand FOR EACH ROW
BEGIN
    UPDATE tracking_brand SET revision = OLD.revision + 1 WHERE id = OLD.id;
END""",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS tracking_brand_revision"]

POSTGRES_CREATE = [
    """CREATE FUNCTION tracking_brand_revision() RETURNS trigger AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    RETURN NEW;
END
$$ LANGUAGE plpgsql""",
    """CREATE TRIGGER tracking_brand_revision
    BEFORE UPDATE ON tracking_brand
    FOR EACH ROW EXECUTE FUNCTION tracking_brand_revision()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS tracking_brand_revision ON tracking_brand",
    "DROP FUNCTION IF EXISTS tracking_brand_revision()",
]


def create(apps, schema_editor):
    statements = {"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}
    for statement in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    statements = {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}
    for statement in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("tracking", "0006_announce_changes")]

    operations = [
        migrations.AddField(
            model_name="brand",
            name="revision",
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(create, drop),
    ]
