"""Event identities become 128-bit UUIDs (recomputed from each event), and the index on the
event's leg alone goes: the leg-and-time index serves those lookups."""

import datetime as dt
import hashlib
import uuid

import django.db.models.deletion
from django.db import migrations, models


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def recompute_identities(apps, schema_editor):
    TrackingEvent = apps.get_model("tracking", "TrackingEvent")
    batch = []
    for event in TrackingEvent.objects.order_by("pk").iterator(chunk_size=2000):
        # TrackingEvent.identity_for as of this migration.
        instant = (event.occurred_at - EPOCH) // dt.timedelta(microseconds=1)
        package = event.package_id.hex if event.package_id else "-"
        key = f"{event.tracking_record_id.hex}\x1f{package}\x1f{event.code}\x1f{instant}\x1f"
        key += event.description
        event.identity = uuid.UUID(bytes=hashlib.sha256(key.encode()).digest()[:16])
        batch.append(event)
        if len(batch) == 2000:
            TrackingEvent.objects.bulk_update(batch, ["identity"])
            batch = []
    TrackingEvent.objects.bulk_update(batch, ["identity"])


class Migration(migrations.Migration):
    dependencies = [("tracking", "0001_initial")]

    operations = [
        migrations.RemoveConstraint(model_name="trackingevent", name="event_identity_set"),
        migrations.RemoveField(model_name="trackingevent", name="identity"),
        migrations.AddField(
            model_name="trackingevent",
            name="identity",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(recompute_identities, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="trackingevent",
            name="identity",
            field=models.UUIDField(editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="trackingevent",
            name="tracking_record",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="tracking.trackingrecord",
            ),
        ),
    ]
