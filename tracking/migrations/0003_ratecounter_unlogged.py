"""On PostgreSQL the rate counters live in an UNLOGGED table.

A counter is touched by every API request; a logged table would make each of those commits
wait for the write-ahead log to reach the disk. Losing the counts of the current window in a
crash costs nothing, so the table skips the log (SQLite has no such thing and is left alone).
"""

from django.db import migrations


def unlogged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE tracking_ratecounter SET UNLOGGED")


def logged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE tracking_ratecounter SET LOGGED")


class Migration(migrations.Migration):
    dependencies = [("tracking", "0002_event_identity_uuid")]

    operations = [migrations.RunPython(unlogged, logged)]
