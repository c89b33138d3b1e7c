"""Event identities become 128-bit UUIDs (recomputed from each event), and the index on the
event's leg alone goes: the leg-and-time index serves those lookups."""

import hashlib
import uuid
from datetime import UTC

import django.db.models.deletion
from django.db import migrations, models


def recompute_identities(apps, schema_editor):
    TrackingEvent = apps.get_model("tracking", "TrackingEvent")
    batch = []
    for event in TrackingEvent.objects.order_by("pk").iterator(chunk_size=2000):
        instant = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        parts = [
            str(event.tracking_record_id),
            str(event.package_id or "-"),
            event.code,
            instant,
            event.description,
        ]
        event.identity = uuid.UUID(bytes=hashlib.sha256("\x1f".join(parts).encode()).digest()[:16])
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
