"""Truthful status (design sections 1 and 7.1): each leg and package keeps its standing (the
stage reached and the newest progress, problem and delay events) instead of the one newest
event, events keep the code as the carrier sent it, carriers' own codes can be mapped, and
tracking numbers and order numbers are found in any case.

Every stored status is derived again under the new rules, a few hundred consignments at a time;
nothing is announced or sent for it. The derivation is written out here on the historical models
(with the pure rules of tracking.status and the bulk UPDATE of tracking.db.bulk: Django's
bulk_update made a million events take eleven minutes), as a migration must not depend on models
that change later.
"""

from collections import defaultdict

import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
from django.db import migrations, models
from django.db.models import F

import tracking.models

BATCH = 500
WARNINGS = [(0, "none"), (1, "delay"), (2, "problem")]
DERIVED = (
    "status",
    "warning",
    "stage",
    "progress_at",
    "progress_status",
    "problem_at",
    "problem_status",
    "delay_at",
)


def standing_fields():
    return [
        ("warning", models.PositiveSmallIntegerField(choices=WARNINGS, default=0, editable=False)),
        ("stage", models.PositiveSmallIntegerField(default=0, editable=False)),
        ("progress_at", models.DateTimeField(blank=True, editable=False, null=True)),
        ("progress_status", models.PositiveSmallIntegerField(default=0, editable=False)),
        ("problem_at", models.DateTimeField(blank=True, editable=False, null=True)),
        ("problem_status", models.PositiveSmallIntegerField(default=0, editable=False)),
        ("delay_at", models.DateTimeField(blank=True, editable=False, null=True)),
    ]


def keep_codes_as_sent(apps, schema_editor):
    # What a carrier sent before this migration is not known; its normalised code is the best
    # record of it (and gives every stored event the identity it had).
    apps.get_model("tracking", "TrackingEvent").objects.update(raw_code=F("code"))


def derive_again(apps, schema_editor):
    from tracking import status as rules
    from tracking.db import bulk

    Consignment = apps.get_model("tracking", "Consignment")
    Package = apps.get_model("tracking", "Package")
    Leg = apps.get_model("tracking", "TrackingRecord")
    Event = apps.get_model("tracking", "TrackingEvent")
    Coverage = Leg.packages.through
    ids = list(Consignment.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        packages = list(
            Package.objects.filter(consignment_id__in=chunk).values_list("pk", "consignment_id")
        )
        leg_of = dict(
            Leg.objects.filter(consignment_id__in=chunk).values_list("pk", "consignment_id")
        )
        listed = defaultdict(set)
        for leg_id, package_id in Coverage.objects.filter(
            trackingrecord__consignment_id__in=chunk
        ).values_list("trackingrecord_id", "package_id"):
            listed[leg_id].add(package_id)
        by_consignment = defaultdict(list)
        for pk, consignment_id in packages:
            by_consignment[consignment_id].append(pk)
        leg_marks, package_marks = defaultdict(list), defaultdict(list)
        events = Event.objects.filter(tracking_record__consignment_id__in=chunk).values_list(
            "tracking_record_id", "package_id", "occurred_at", "status", "code"
        )
        for leg_id, package_id, occurred_at, status, code in events.iterator():
            mark = rules.mark(occurred_at, status, code)
            leg_marks[leg_id].append(mark)
            if package_id is not None:
                package_marks[package_id].append(mark)
                continue
            for package in listed.get(leg_id) or by_consignment[leg_of[leg_id]]:
                package_marks[package].append(mark)
        leg_rows = [(pk, *rules.standing(leg_marks[pk]).columns()) for pk in leg_of]
        package_rows = {pk: rules.standing(package_marks[pk]).columns() for pk, _c in packages}
        bulk.set_columns(Leg, DERIVED, leg_rows)
        bulk.set_columns(Package, DERIVED, [(pk, *row) for pk, row in package_rows.items()])
        rolled = []
        for pk, revision in Consignment.objects.filter(pk__in=chunk).values_list("pk", "revision"):
            mine = [package_rows[package][:2] for package in by_consignment[pk]]
            status = int(rules.consignment_status(s for s, _w in mine))
            # The revision moves so the pages' ETags and cached bodies change.
            rolled.append((pk, status, int(rules.consignment_warning(mine)), revision + 1))
        bulk.set_columns(Consignment, ["status", "warning", "revision"], rolled)


class Migration(migrations.Migration):
    dependencies = [("tracking", "0008_announce_key_changes")]

    operations = [
        migrations.AddField(
            model_name="trackingevent",
            name="raw_code",
            field=models.CharField(default="", max_length=100),
            preserve_default=False,
        ),
        migrations.RunPython(keep_codes_as_sent, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="package", name="status_occurred_at"),
        migrations.RemoveField(model_name="package", name="status_received_at"),
        migrations.RemoveField(model_name="trackingrecord", name="status_occurred_at"),
        migrations.RemoveField(model_name="trackingrecord", name="status_received_at"),
        *[
            migrations.AddField(model_name=model, name=name, field=field)
            for model in ("package", "trackingrecord")
            for name, field in standing_fields()
        ],
        migrations.AddField(
            model_name="consignment",
            name="warning",
            field=models.PositiveSmallIntegerField(choices=WARNINGS, default=0, editable=False),
        ),
        migrations.AddIndex(
            model_name="consignment",
            index=models.Index(
                django.db.models.functions.text.Upper("customer_reference"),
                name="consignment_customer_ref_ci",
            ),
        ),
        migrations.AddIndex(
            model_name="trackingrecord",
            index=models.Index(
                models.F("carrier"),
                django.db.models.functions.text.Upper("tracking_number"),
                name="leg_carrier_number_ci",
            ),
        ),
        migrations.AddIndex(
            model_name="trackingrecord",
            index=models.Index(
                django.db.models.functions.text.Upper("tracking_number"),
                name="leg_tracking_number_ci",
            ),
        ),
        migrations.CreateModel(
            name="CodeMapping",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "code",
                    models.CharField(
                        help_text="The carrier's code, e.g. ZUGESTELLT.", max_length=50
                    ),
                ),
                (
                    "maps_to",
                    models.CharField(
                        help_text="The normalised code it means, e.g. DELIVERED.",
                        max_length=50,
                        validators=[tracking.models.validate_known_code],
                    ),
                ),
                (
                    "created_utc",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
                (
                    "carrier",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="code_mappings",
                        to="tracking.carrier",
                    ),
                ),
            ],
            options={
                "ordering": ["carrier", "code"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("carrier", "code"), name="code_mapping_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(derive_again, migrations.RunPython.noop, elidable=True),
    ]
