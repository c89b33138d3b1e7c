"""The back office: changelists in a fixed number of queries, events added through the service."""

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone

from tests.factories import CarrierFactory, add_events, at, make_consignment, make_leg
from tracking import services
from tracking.models import ApiKey, Consignment, TrackingEvent

pytestmark = pytest.mark.django_db

# Queries each changelist costs, whatever the number of rows: the session and the user (2), the
# choices of each brand or carrier filter (1 each), the filtered and total counts (2), the page
# of rows with what it shows joined in (1), and a date hierarchy's range and days (2).
CHANGELISTS = {
    "tracking_brand": 5,
    "tracking_carrier": 5,
    "tracking_consignment": 9,  # brand and carrier filters, the date hierarchy
    "tracking_trackingrecord": 7,  # carrier and brand filters
    "tracking_trackingevent": 8,  # carrier filter, the date hierarchy
    "tracking_apikey": 7,  # brand and carrier filters
}


def populate(brand, count: int):
    for n in range(count):
        consignment = make_consignment(brand, packages=2, customer_reference=f"ORDER-{n}")
        leg = make_leg(consignment, carrier=CarrierFactory(), tracking_number=f"TN{n:04}")
        add_events(leg, (1, "IN_TRANSIT"), (2, "OUT_FOR_DELIVERY"))
        services.issue_api_key(name=f"key {n}", brand=brand)


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize("changelist", list(CHANGELISTS))
def test_changelists_run_a_fixed_number_of_queries(admin_client, brand, changelist):
    url = reverse(f"admin:{changelist}_changelist")
    populate(brand, 2)
    small = queries_for(admin_client, url)
    populate(brand, 20)
    large = queries_for(admin_client, url)
    assert (small, large) == (CHANGELISTS[changelist], CHANGELISTS[changelist])


def test_search_finds_consignments_by_every_reference(admin_client, consignment, leg):
    url = reverse("admin:tracking_consignment_changelist")
    package = consignment.packages.first()
    make_consignment(consignment.brand, customer_reference="OTHER")
    # Whole values only, in any case (tests/admin/test_search.py has the other kinds): a prefix
    # such as "EC-AAA" was a LIKE scan of every consignment and no longer matches.
    for term in [consignment.reference, package.reference, leg.tracking_number, "ec aaa bbb ccc"]:
        response = admin_client.get(url, {"q": term})
        assert list(response.context["cl"].result_list) == [consignment], term


def test_filters_by_brand_carrier_and_status(admin_client, consignment, leg, other_brand):
    make_consignment(other_brand)
    url = reverse("admin:tracking_consignment_changelist")
    add_events(leg, (1, "DELIVERED"))
    for params in [
        {"brand__id__exact": consignment.brand_id},
        {"legs__carrier__id__exact": leg.carrier_id},
        {"status__exact": 5},
    ]:
        response = admin_client.get(url, params)
        assert list(response.context["cl"].result_list) == [consignment], params


def test_the_consignment_page_shows_packages_and_legs(admin_client, consignment, leg):
    response = admin_client.get(reverse("admin:tracking_consignment_change", args=[consignment.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    for package in consignment.packages.all():
        assert package.reference in content
    assert leg.tracking_number in content


def test_the_leg_page_lists_its_events_read_only(admin_client, leg):
    add_events(leg, (1, "IN_TRANSIT", "Arrived at hub"))
    response = admin_client.get(reverse("admin:tracking_trackingrecord_change", args=[leg.pk]))
    content = response.content.decode()
    assert "Arrived at hub" in content
    assert "Add an event to this leg" in content
    assert 'name="events-0-description"' not in content


def test_staff_add_an_event_through_the_service(admin_client, leg, consignment):
    package = consignment.packages.first()
    url = reverse("admin:tracking_trackingevent_add")
    form = {
        "tracking_record": leg.pk,
        "package": package.pk,
        "status": "",
        "code": "delivered",
        "description": "Left with neighbour",
        "location": "Leeds",
        "signed_by": "P. Smith",
        "occurred_at_0": "2026-03-09",
        "occurred_at_1": "10:00:00",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302
    assert response.url == reverse("admin:tracking_trackingrecord_change", args=[leg.pk])
    event = TrackingEvent.objects.get()
    assert (event.code, event.status, event.source, event.package) == (
        "DELIVERED",
        5,
        "admin",
        package,
    )
    package.refresh_from_db()
    assert package.status == 5
    again = admin_client.post(url, form, follow=True)
    assert "already stored" in again.content.decode()
    assert TrackingEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "", "code": ""}, "Give a status, a code, or both."),
        ({"code": "not a code!"}, "letters, digits and underscores"),
        ({"occurred_at_0": "2999-01-01"}, "more than 24 hours in the future"),
    ],
)
def test_bad_events_are_refused_with_a_message(admin_client, leg, changes, message):
    form = {
        "tracking_record": leg.pk,
        "status": "3",
        "code": "",
        "occurred_at_0": "2026-03-09",
        "occurred_at_1": "10:00:00",
        **changes,
    }
    response = admin_client.post(reverse("admin:tracking_trackingevent_add"), form)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TrackingEvent.objects.exists()


def test_events_cannot_be_edited_or_deleted(admin_client, leg):
    add_events(leg, (1, "IN_TRANSIT"))
    event = TrackingEvent.objects.get()
    change = admin_client.post(
        reverse("admin:tracking_trackingevent_change", args=[event.pk]), {"code": "DELIVERED"}
    )
    assert change.status_code == 403
    delete = admin_client.post(
        reverse("admin:tracking_trackingevent_delete", args=[event.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert TrackingEvent.objects.get().code == "IN_TRANSIT"


def test_an_api_key_secret_is_shown_once(admin_client, brand):
    response = admin_client.post(
        reverse("admin:tracking_apikey_add"), {"name": "Warehouse", "brand": brand.pk}, follow=True
    )
    key = ApiKey.objects.get()
    content = response.content.decode()
    assert "shown only once" in content
    secret = content.split("<code>")[1].split("</code>")[0]
    assert ApiKey.hash(secret) == key.hashed_secret
    page = admin_client.get(reverse("admin:tracking_apikey_change", args=[key.pk]))
    assert secret not in page.content.decode()


def test_an_api_key_needs_exactly_one_of_brand_and_carrier(admin_client, brand):
    carrier = CarrierFactory()
    response = admin_client.post(
        reverse("admin:tracking_apikey_add"),
        {"name": "Both", "brand": brand.pk, "carrier": carrier.pk},
    )
    assert "either a brand" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_keys_can_be_revoked(admin_client, our_key):
    admin_client.post(
        reverse("admin:tracking_apikey_changelist"),
        {"action": "revoke", "_selected_action": [our_key.key.pk]},
    )
    assert not ApiKey.objects.usable().exists()


def test_staff_edits_of_legs_rederive_statuses(admin_client, consignment, leg):
    first, second = consignment.packages.order_by("sequence")
    add_events(leg, (1, "DELIVERED"))
    url = reverse("admin:tracking_trackingrecord_change", args=[leg.pk])
    form = {
        "consignment": consignment.pk,
        "sequence": 1,
        "carrier": leg.carrier_id,
        "carrier_name": leg.carrier_name,
        "tracking_number": leg.tracking_number,
        "packages": [second.pk],
        "events-TOTAL_FORMS": 0,
        "events-INITIAL_FORMS": 1,
        "events-MIN_NUM_FORMS": 0,
        "events-MAX_NUM_FORMS": 1000,
    }
    revision = Consignment.objects.get(pk=consignment.pk).revision
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (0, 5)
    # One save, one re-derivation: the revision moves on by one, so the page's ETag changes.
    assert Consignment.objects.get(pk=consignment.pk).revision == revision + 1


def test_the_admin_needs_a_staff_login(client):
    response = client.get(reverse("admin:tracking_consignment_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response.url


def test_event_times_are_entered_in_utc(admin_client, leg):
    admin_client.post(
        reverse("admin:tracking_trackingevent_add"),
        {
            "tracking_record": leg.pk,
            "status": "3",
            "occurred_at_0": "2026-03-09",
            "occurred_at_1": "10:00:00",
        },
    )
    assert TrackingEvent.objects.get().occurred_at == dt.datetime(2026, 3, 9, 10, tzinfo=dt.UTC)


# Forty minutes into an hour (and inside a second): a pause lasts the window's last 20 minutes.
LOGIN_MOMENT = dt.datetime(2026, 3, 9, 10, 40, 0, 500_000, tzinfo=dt.UTC)


def log_in(client, username, password, address):
    return client.post(
        reverse("admin:login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_ten_failed_logins_from_one_address_pause_it_whatever_the_usernames(client, admin_user):
    with time_machine.travel(LOGIN_MOMENT, tick=False):
        for n in range(10):
            assert log_in(client, f"guess{n}", "wrong", "203.0.113.7").status_code == 200
        # No username has failed more than once, so only the address's limit can refuse this.
        paused = log_in(client, "admin", "password", "203.0.113.7")
        elsewhere = log_in(Client(), "admin", "password", "198.51.100.1")

    assert paused.status_code == 429
    assert paused["Retry-After"] == "1200"
    assert "_auth_user_id" not in client.session
    assert elsewhere.status_code == 302


def test_ten_failed_logins_for_one_username_pause_it_from_every_address(
    client, admin_user, django_user_model
):
    django_user_model.objects.create_user("clerk", password="clerk-password", is_staff=True)
    with time_machine.travel(LOGIN_MOMENT, tick=False):
        for n in range(10):
            assert log_in(client, "admin", "wrong", f"203.0.113.{n + 1}").status_code == 200
        # No address has failed more than once, so only the username's limit can refuse these
        # (the name compared as typed in any case, with spaces around it).
        paused = log_in(client, "admin", "password", "198.51.100.1")
        retyped = log_in(Client(), " ADMIN ", "password", "198.51.100.2")
        someone_else = log_in(Client(), "clerk", "clerk-password", "198.51.100.1")

    assert (paused.status_code, retyped.status_code) == (429, 429)
    assert paused["Retry-After"] == "1200"
    assert "_auth_user_id" not in client.session
    assert someone_else.status_code == 302


def test_a_correct_login_is_not_counted(client, admin_user):
    url = reverse("admin:login")
    for _ in range(12):
        response = client.post(url, {"username": "admin", "password": "password"})
        assert response.status_code == 302
        client.logout()


def submitted_as_shown(response) -> dict:
    """A change page's form and inlines as the browser would post them back unchanged."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {"_save": "Save"}
    for form in forms:
        for field in form:
            value = field.value()
            if value is True:
                data[field.html_name] = "on"
            elif value not in (None, False, ""):
                data[field.html_name] = value
    return data


def delivered_consignment(consignment, leg):
    add_events(leg, (1, "IN_TRANSIT"), (2, "DELIVERED"), package=consignment.packages.first())
    add_events(leg, (3, "DELIVERED"))
    consignment.refresh_from_db()
    assert consignment.status == 5
    return consignment


@pytest.mark.parametrize("inline", ["legs", "packages"])
def test_the_consignment_page_refuses_to_delete_a_row_with_events(
    admin_client, consignment, leg, inline
):
    delivered_consignment(consignment, leg)
    url = reverse("admin:tracking_consignment_change", args=[consignment.pk])
    form = submitted_as_shown(admin_client.get(url))
    form[f"{inline}-0-DELETE"] = "on"
    response = admin_client.post(url, form)
    assert response.status_code == 200
    assert "events are append-only" in response.content.decode()
    assert TrackingEvent.objects.count() == 3
    assert (consignment.legs.count(), consignment.packages.count()) == (1, 2)
    consignment.refresh_from_db()
    assert consignment.status == 5


def test_the_consignment_page_still_deletes_a_leg_without_events(admin_client, consignment, leg):
    url = reverse("admin:tracking_consignment_change", args=[consignment.pk])
    form = submitted_as_shown(admin_client.get(url))
    form["legs-0-DELETE"] = "on"
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not consignment.legs.exists()


@pytest.mark.parametrize("model", ["consignment", "trackingrecord"])
def test_delete_pages_refuse_with_a_message_when_events_would_go(
    admin_client, consignment, leg, model
):
    delivered_consignment(consignment, leg)
    target = {"consignment": consignment, "trackingrecord": leg}[model]
    url = reverse(f"admin:tracking_{model}_delete", args=[target.pk])
    page = admin_client.get(url)
    assert "events are append-only" in page.content.decode()
    assert 'name="post"' not in page.content.decode()
    confirmed = admin_client.post(url, {"post": "yes"})
    assert confirmed.status_code == 200
    assert "events are append-only" in confirmed.content.decode()
    assert TrackingEvent.objects.count() == 3
    assert type(target).objects.filter(pk=target.pk).exists()


@pytest.mark.parametrize("model", ["consignment", "trackingrecord"])
def test_bulk_delete_refuses_with_a_message_when_events_would_go(
    admin_client, consignment, leg, model
):
    delivered_consignment(consignment, leg)
    target = {"consignment": consignment, "trackingrecord": leg}[model]
    url = reverse(f"admin:tracking_{model}_changelist")
    form = {"action": "delete_selected", "_selected_action": [target.pk], "index": 0}
    asked = admin_client.post(url, form)
    assert "events are append-only" in asked.content.decode()
    confirmed = admin_client.post(url, {**form, "post": "yes"})
    assert confirmed.status_code == 200
    assert "events are append-only" in confirmed.content.decode()
    assert TrackingEvent.objects.count() == 3
    assert type(target).objects.filter(pk=target.pk).exists()


def test_a_consignment_without_events_can_still_be_deleted(admin_client, consignment, leg):
    url = reverse("admin:tracking_consignment_delete", args=[consignment.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Consignment.objects.filter(pk=consignment.pk).exists()


@pytest.mark.parametrize("model", ["brand", "carrier"])
def test_brands_and_carriers_with_events_are_not_deleted(admin_client, consignment, leg, model):
    delivered_consignment(consignment, leg)
    target = {"brand": consignment.brand, "carrier": leg.carrier}[model]
    url = reverse(f"admin:tracking_{model}_delete", args=[target.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert TrackingEvent.objects.count() == 3


def test_revoking_from_a_filtered_list_logs_each_key(admin_client, brand):
    keys = [services.issue_api_key(name=f"Shop {n}", brand=brand)[0] for n in range(2)]
    url = reverse("admin:tracking_apikey_changelist") + "?active__exact=1"
    response = admin_client.post(
        url,
        {"action": "revoke", "_selected_action": [key.pk for key in keys], "index": 0},
        follow=True,
    )
    assert "Revoked 2 key(s)." in response.content.decode()
    assert not ApiKey.objects.filter(active=True).exists()
    history = LogEntry.objects.filter(action_flag=CHANGE, change_message="Revoked.")
    assert sorted(entry.object_id for entry in history) == sorted(str(key.pk) for key in keys)


def last_used_column(admin_client) -> dict[str, str]:
    """Each key's name and its "Last used" cell, as the key list shows them."""
    html = admin_client.get(reverse("admin:tracking_apikey_changelist")).content.decode()
    assert ">Last used</a>" in html
    row = (
        r'<th class="field-name"><a [^>]*>([^<]*)</a></th>'
        r'.*?<td class="field-last_used[^"]*">([^<]*)</td>'
    )
    return dict(re.findall(row, html))


def shown(moment: dt.datetime) -> str:
    return formats.localize(timezone.template_localtime(moment))


def test_the_key_list_shows_when_each_key_last_authenticated(
    admin_client, client, our_key, their_key, consignment
):
    assert last_used_column(admin_client) == {"Harbour shop": "-", "Elsewhere shop": "-"}

    with time_machine.travel(at(1), tick=False):
        response = client.get(f"/v1/consignments/{consignment.pk}", **our_key.bearer)
    assert response.status_code == 200
    assert ApiKey.objects.get(pk=our_key.key.pk).last_used == at(1)
    assert last_used_column(admin_client) == {"Harbour shop": shown(at(1)), "Elsewhere shop": "-"}

    # Written at most once a minute, so that reads stay free of writes. A key refused the
    # consignment (another brand's: 404) has still authenticated, so it was used.
    with time_machine.travel(at(1) + dt.timedelta(seconds=59), tick=False):
        again = client.get(f"/tracking/{consignment.reference}", **our_key.subscription)
    assert again.status_code == 200
    assert ApiKey.objects.get(pk=our_key.key.pk).last_used == at(1)
    with time_machine.travel(at(2), tick=False):
        theirs = client.get(f"/tracking/{consignment.reference}", **their_key.subscription)
        ours = client.get(f"/tracking/{consignment.reference}", **our_key.subscription)
    assert (theirs.status_code, ours.status_code) == (404, 200)
    assert last_used_column(admin_client) == {
        "Harbour shop": shown(at(2)),
        "Elsewhere shop": shown(at(2)),
    }


def test_last_used_is_stamped_on_the_real_clock(client, our_key, consignment):
    before = timezone.now()
    assert client.get(f"/v1/consignments/{consignment.pk}", **our_key.bearer).status_code == 200
    after = timezone.now()
    assert before <= ApiKey.objects.get(pk=our_key.key.pk).last_used <= after
