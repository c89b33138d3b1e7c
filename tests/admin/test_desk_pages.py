"""What a support agent reads and does on the back office's pages (design section 7.5):
statuses in words, an event added from a leg's page among that leg's packages, one truth for
a leg's carrier, and the filtered consignment list as CSV."""

import csv
import io
import re

import pytest
from django.urls import reverse

from tests.factories import CarrierFactory, add_events, make_consignment, make_leg
from tracking.models import Carrier, TrackingEvent, TrackingRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def out_for_delivery(consignment, leg):
    add_events(leg, (1, "IN_TRANSIT"), (2, "OUT_FOR_DELIVERY"))
    return consignment


@pytest.mark.parametrize(
    "page",
    [
        lambda c: reverse("admin:tracking_consignment_changelist"),
        lambda c: reverse("admin:tracking_consignment_change", args=[c.pk]),
        lambda c: reverse("admin:tracking_trackingrecord_changelist"),
        lambda c: reverse("admin:tracking_trackingrecord_change", args=[c.legs.get().pk]),
        lambda c: reverse("admin:tracking_trackingevent_changelist"),
        lambda c: reverse(
            "admin:tracking_trackingevent_change",
            args=[TrackingEvent.objects.filter(code="OUT_FOR_DELIVERY").get().pk],
        ),
    ],
)
def test_statuses_read_as_words(admin_client, out_for_delivery, page):
    html = admin_client.get(page(out_for_delivery)).content.decode()
    assert "Out for delivery" in html
    assert "OutForDelivery" not in html
    assert "4 Out" not in html


def test_the_status_filter_reads_as_words_and_filters(admin_client, out_for_delivery, brand):
    make_consignment(brand)
    url = reverse("admin:tracking_consignment_changelist")
    response = admin_client.get(url, {"status__exact": 4})
    assert list(response.context["cl"].result_list) == [out_for_delivery]
    html = response.content.decode()
    for words in ("Out for delivery", "Delivered", "Delivery attempted", "Label created"):
        assert f">{words}</a>" in html


def test_the_leg_page_adds_an_event_offering_only_that_legs_packages(admin_client, brand):
    first = make_consignment(brand, packages=3)
    second = make_consignment(brand, packages=1)
    carrier = CarrierFactory()
    leg = make_leg(first, carrier=carrier, packages=list(first.packages.all()[:2]))
    make_leg(second, carrier=carrier)
    page = admin_client.get(reverse("admin:tracking_trackingrecord_change", args=[leg.pk]))
    link = f"{reverse('admin:tracking_trackingevent_add')}?tracking_record={leg.pk}"
    assert link in page.content.decode()

    form = admin_client.get(link).context["adminform"].form
    offered = set(form.fields["package"].queryset)
    assert offered == set(leg.packages.all())
    label = form.fields["package"].label_from_instance(first.packages.first())
    assert first.packages.first().reference in label and "Parcel 1" in label

    posted = admin_client.post(
        link,
        {
            "tracking_record": leg.pk,
            "package": first.packages.first().pk,
            "status": "4",
            "occurred_at_0": "2026-03-09",
            "occurred_at_1": "10:00:00",
        },
    )
    assert posted.status_code == 302
    event = TrackingEvent.objects.get()
    assert (event.code, event.source, event.package) == (
        "OUT_FOR_DELIVERY",
        "admin",
        first.packages.first(),
    )
    # The package the leg does not carry is not a choice.
    refused = admin_client.post(
        link,
        {
            "tracking_record": leg.pk,
            "package": first.packages.order_by("sequence").last().pk,
            "status": "5",
            "occurred_at_0": "2026-03-09",
            "occurred_at_1": "11:00:00",
        },
    )
    assert refused.status_code == 200
    assert "package" in refused.context["adminform"].form.errors


def test_every_leg_link_on_a_consignment_page_opens(admin_client, consignment, leg):
    """A new row's UUID is set before it is saved: the blank "add another leg" row must link
    nowhere (it linked to a leg that does not exist)."""
    html = admin_client.get(
        reverse("admin:tracking_consignment_change", args=[consignment.pk])
    ).content.decode()
    links = set(re.findall(r'href="(/admin/tracking/trackingrecord/[^"]+/change/)"', html))
    assert links == {reverse("admin:tracking_trackingrecord_change", args=[leg.pk])}
    page = admin_client.get(reverse("admin:tracking_consignment_add")).content.decode()
    assert "/track/" not in page.split('id="content-main"')[1]


def test_a_legs_carrier_follows_its_name(admin_client, consignment, leg):
    url = reverse("admin:tracking_trackingrecord_change", args=[leg.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="carrier"' not in page  # one field: the name
    form = {
        "consignment": consignment.pk,
        "sequence": 1,
        "carrier_name": "Yodel",
        "tracking_number": leg.tracking_number,
        "events-TOTAL_FORMS": 0,
        "events-INITIAL_FORMS": 0,
    }
    assert admin_client.post(url, form).status_code == 302
    leg.refresh_from_db()
    assert (leg.carrier_name, leg.carrier.name) == ("Yodel", "Yodel")
    # The filter goes by the carrier, so it now finds the leg under its new name.
    listed = admin_client.get(
        reverse("admin:tracking_trackingrecord_changelist"), {"carrier__id__exact": leg.carrier_id}
    )
    assert list(listed.context["cl"].result_list) == [leg]
    # Another name in another case is the same carrier; an empty name is none.
    assert admin_client.post(url, {**form, "carrier_name": "YODEL"}).status_code == 302
    assert Carrier.objects.filter(name__iexact="yodel").count() == 1
    assert admin_client.post(url, {**form, "carrier_name": ""}).status_code == 302
    assert TrackingRecord.objects.get(pk=leg.pk).carrier is None


def test_a_carrier_is_not_renamed_under_its_legs(admin_client, leg):
    url = reverse("admin:tracking_carrier_change", args=[leg.carrier_id])
    admin_client.post(url, {"name": "Renamed", "code": leg.carrier.code})
    leg.carrier.refresh_from_db()
    assert leg.carrier.name == "Carrier X"


def exported(client, **params) -> list[dict]:
    response = client.get(reverse("admin:tracking_consignment_export"), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_keeps_the_lists_filters_and_search(admin_client, out_for_delivery, brand):
    make_consignment(brand, recipient_name="Sam Jones", customer_reference="=HYPERLINK(1)")
    everything = exported(admin_client)
    assert len(everything) == 2
    (row,) = exported(admin_client, status__exact=4)
    assert row["Reference"] == out_for_delivery.reference
    assert row["Status"] == "Out for delivery"
    assert row["Recipient"] == "Alex Morgan"
    assert row["Carriers"] == "Carrier X"
    assert row["Tracking numbers"] == "TRK00009823"
    assert len(row["Packages"].split()) == 2
    assert "destination_address" not in row and "Address" not in row
    (sam,) = exported(admin_client, q="sam jones")
    assert sam["Order number"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet


def test_the_list_links_to_the_export_with_its_filters(admin_client, out_for_delivery):
    html = admin_client.get(
        reverse("admin:tracking_consignment_changelist"), {"status__exact": 4, "q": "alex morgan"}
    ).content.decode()
    export = reverse("admin:tracking_consignment_export")
    assert f'href="{export}?status__exact=4&amp;q=alex+morgan"' in html
    assert "Export CSV" in html


def test_the_export_costs_three_queries_per_chunk(admin_client, brand, django_assert_num_queries):
    for _ in range(3):
        make_consignment(brand)
    response = admin_client.get(reverse("admin:tracking_consignment_export"))
    with django_assert_num_queries(3):
        b"".join(response.streaming_content)
