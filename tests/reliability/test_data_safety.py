"""Data safety: export and erasure on request, key rotation, and an audit trail of staff edits."""

import datetime as dt
import json

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.urls import reverse

from tests.factories import add_events
from tracking import services
from tracking.models import ApiKey, Consignment, TrackingEvent

pytestmark = pytest.mark.django_db


def signed_delivery(leg, consignment):
    add_events(leg, (1, "IN_TRANSIT", "At hub"))
    services.record_event(
        leg=leg,
        source="admin",
        code="DELIVERED",
        description="Delivered",
        location="Leeds",
        signed_by="P. Smith",
        occurred_at=dt.datetime(2026, 3, 9, 12, tzinfo=dt.UTC),
    )


class TestExport:
    def test_it_exports_everything_stored(self, consignment, leg):
        signed_delivery(leg, consignment)
        exported = services.export_consignment(consignment)
        assert exported["reference"] == consignment.reference
        assert exported["recipient"]["name"] == "Alex Morgan"
        assert [e["code"] for e in exported["events"]] == ["IN_TRANSIT", "DELIVERED"]
        assert exported["events"][1]["signedBy"] == "P. Smith"
        assert len(exported["packages"]) == 2
        json.dumps(exported)  # serialisable as it is

    def test_staff_download_it_from_the_admin(self, admin_client, consignment, leg):
        response = admin_client.post(
            reverse("admin:tracking_consignment_changelist"),
            {"action": "export_json", "_selected_action": [consignment.pk]},
        )
        assert response["Content-Disposition"].startswith("attachment")
        assert json.loads(response.content)[0]["reference"] == consignment.reference

    def test_operators_print_it_with_a_command(self, consignment, capsys):
        call_command("exportconsignment", consignment.reference.lower())
        assert json.loads(capsys.readouterr().out)["id"] == str(consignment.pk)


class TestErasure:
    def test_recipient_data_goes_and_the_journey_stays_anonymised(self, consignment, leg):
        signed_delivery(leg, consignment)
        revision = Consignment.objects.get(pk=consignment.pk).revision
        services.erase_recipient(consignment)
        consignment.refresh_from_db()
        for name in services.PRIVATE_CONSIGNMENT_FIELDS:
            assert getattr(consignment, name) == ""
        assert consignment.destination_town == "London"
        events = TrackingEvent.objects.filter(tracking_record=leg)
        assert events.count() == 2
        assert set(events.values_list("signed_by", flat=True)) == {""}
        assert consignment.revision == revision + 1

    def test_the_admin_asks_before_erasing_and_logs_it(self, admin_client, consignment):
        url = reverse("admin:tracking_consignment_changelist")
        form = {"action": "erase_recipient_data", "_selected_action": [consignment.pk]}
        confirmation = admin_client.post(url, form)
        assert confirmation.status_code == 200
        assert confirmation.templates[0].name == "admin/tracking/erase_confirmation.html"
        page = confirmation.content.decode()
        assert "will be removed for good" in page
        assert f"<li>{consignment.reference}</li>" in page
        assert '<input type="hidden" name="confirmed" value="yes">' in page
        consignment.refresh_from_db()
        assert consignment.recipient_name == "Alex Morgan"
        admin_client.post(url, {**form, "confirmed": "yes"})
        consignment.refresh_from_db()
        assert consignment.recipient_name == ""
        assert LogEntry.objects.filter(change_message__contains="Erased").exists()

    def test_operators_erase_with_a_command(self, consignment):
        call_command("eraserecipient", consignment.reference, "--yes")
        consignment.refresh_from_db()
        assert consignment.recipient_email == ""


class TestKeyRotation:
    def test_the_old_key_keeps_working_for_a_grace_period(self, our_key):
        moment = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
        with time_machine.travel(moment, tick=False):
            new_key, secret = services.rotate_api_key(key=our_key.key)
            assert set(ApiKey.objects.usable()) == {our_key.key, new_key}
        with time_machine.travel(moment + dt.timedelta(hours=25), tick=False):
            assert list(ApiKey.objects.usable()) == [new_key]
        assert new_key.hashed_secret == ApiKey.hash(secret)
        assert (new_key.name, new_key.brand) == (our_key.key.name, our_key.key.brand)

    def test_a_revoked_key_cannot_be_rotated(self, our_key):
        our_key.key.active = False
        our_key.key.save()
        with pytest.raises(services.ValidationError):
            services.rotate_api_key(key=our_key.key)

    def test_staff_rotate_in_the_admin_and_see_the_secret_once(self, admin_client, our_key):
        response = admin_client.post(
            reverse("admin:tracking_apikey_changelist"),
            {"action": "rotate", "_selected_action": [our_key.key.pk]},
            follow=True,
        )
        assert "shown only once" in response.content.decode()
        assert ApiKey.objects.count() == 2


def test_staff_edits_leave_an_audit_trail(admin_client, consignment):
    url = reverse("admin:tracking_consignment_change", args=[consignment.pk])
    page = admin_client.get(url)
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data["destination_town"] = "Bristol"
    for prefix, formset in [("packages", 0), ("legs", 0)]:
        inline = next(
            f for f in page.context["inline_admin_formsets"] if f.formset.prefix == prefix
        )
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{prefix}-{name}"] = management[name].value()
        for index, subform in enumerate(inline.formset.forms):
            for name in subform.fields:
                value = subform[name].value()
                data[f"{prefix}-{index}-{name}"] = "" if value is None else value
        assert formset == 0
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert LogEntry.objects.filter(object_id=str(consignment.pk)).exists()
