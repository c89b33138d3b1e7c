"""Brand staff see their brand only, in every admin model (design section 7.5): changelists,
change, delete and history pages, forms' choices, autocomplete, filters, search and actions.
Staff without a brand see nothing; superusers see everything; what brands share is theirs."""

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.urls import reverse

from tracking.admin import codes
from tracking.admin.scope import BRAND_PATHS, BrandScopedAdmin, SharedAdmin
from tracking.models import (
    ApiKey,
    Brand,
    Consignment,
    EmailSubscriber,
    OutboundEmail,
    TrackingEvent,
    TrackingRecord,
    WebhookMessage,
    WebhookSubscription,
)

pytestmark = pytest.mark.django_db

# Each brand-scoped admin model and how to find a brand's row of it in the Holdings.
ROWS = {
    Brand: lambda h: h.consignment.brand,
    Consignment: lambda h: h.consignment,
    TrackingRecord: lambda h: h.leg,
    TrackingEvent: lambda h: h.event,
    ApiKey: lambda h: h.key,
    WebhookSubscription: lambda h: h.subscription,
    WebhookMessage: lambda h: h.message,
    EmailSubscriber: lambda h: h.subscriber,
    OutboundEmail: lambda h: h.email,
}
SCOPED = list(ROWS)


def url(model, view: str, *args) -> str:
    # As the admin's own links: quoted, or a message id "msg_25..." would read as "msg%...".
    return reverse(f"admin:tracking_{model._meta.model_name}_{view}", args=map(quote, args))


def listed(client, model, **params) -> set:
    response = client.get(url(model, "changelist"), params)
    assert response.status_code == 200, response.status_code
    return {obj.pk for obj in response.context["cl"].result_list}


def test_every_admin_is_scoped_or_for_superusers_only():
    unsorted = [
        model.__name__
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "tracking"
        and not isinstance(model_admin, BrandScopedAdmin | SharedAdmin | codes.SuperusersOnly)
    ]
    assert unsorted == []
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, BrandScopedAdmin):
            assert model in BRAND_PATHS, model


def test_every_scoped_admin_model_is_tested():
    scoped = {m for m, a in admin.site._registry.items() if isinstance(a, BrandScopedAdmin)}
    assert scoped == set(ROWS)


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__name__)
def test_brand_staff_list_only_their_brands_rows(brand_staff, ours, theirs, model):
    assert listed(brand_staff, model) == {ROWS[model](ours).pk}


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__name__)
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_another_brands_pages_are_404_to_brand_staff(brand_staff, ours, theirs, model, view):
    assert brand_staff.get(url(model, view, ROWS[model](theirs).pk)).status_code == 404
    assert brand_staff.get(url(model, view, ROWS[model](ours).pk)).status_code in (200, 403)


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__name__)
def test_brand_staff_open_their_own_rows(brand_staff, ours, model):
    for view in ("change", "history"):
        assert brand_staff.get(url(model, view, ROWS[model](ours).pk)).status_code == 200


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__name__)
def test_staff_of_no_brand_see_nothing(staff_of_no_brand, ours, theirs, model):
    assert listed(staff_of_no_brand, model) == set()
    for holdings in (ours, theirs):
        pk = ROWS[model](holdings).pk
        assert staff_of_no_brand.get(url(model, "change", pk)).status_code == 404


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__name__)
def test_superusers_see_every_brand(superuser, ours, theirs, model):
    assert listed(superuser, model) == {ROWS[model](ours).pk, ROWS[model](theirs).pk}


SEARCHES = {
    Consignment: lambda h: [
        h.consignment.reference,
        h.package.reference,
        h.consignment.customer_reference,
        h.leg.tracking_number,
        h.consignment.recipient_name,
        h.consignment.recipient_email,
        h.consignment.destination_postcode,
    ],
    TrackingRecord: lambda h: [h.leg.tracking_number, h.consignment.reference],
    TrackingEvent: lambda h: [h.consignment.reference, h.leg.tracking_number],
    ApiKey: lambda h: [h.key.name, h.key.prefix],
    Brand: lambda h: [h.consignment.brand.name, h.consignment.brand.slug],
    WebhookSubscription: lambda h: [h.subscription.url],
    WebhookMessage: lambda h: [
        h.message.pk,
        h.consignment.reference,
        h.consignment.reference.lower(),
    ],
    EmailSubscriber: lambda h: [
        h.subscriber.email,
        h.subscriber.email.upper(),
        h.consignment.reference,
        h.consignment.reference.lower(),
    ],
    OutboundEmail: lambda h: [h.subscriber.email.lower(), h.consignment.reference],
}


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__name__)
def test_search_never_finds_another_brands_rows(brand_staff, superuser, ours, theirs, model):
    for term in SEARCHES[model](theirs):
        assert listed(brand_staff, model, q=term) == set(), term
        assert ROWS[model](theirs).pk in listed(superuser, model, q=term), term
    for term in SEARCHES[model](ours):
        assert ROWS[model](ours).pk in listed(brand_staff, model, q=term), term


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__name__)
def test_filters_name_no_other_brand_or_its_carrier(brand_staff, superuser, ours, theirs, model):
    page = brand_staff.get(url(model, "changelist")).content.decode()
    for name in (theirs.consignment.brand.name, theirs.leg.carrier.name):
        assert name not in page
    # The superuser's filters list both (where the list has such filters at all).
    if model in (Consignment, TrackingRecord):
        everything = superuser.get(url(model, "changelist")).content.decode()
        assert theirs.consignment.brand.name in everything
        assert theirs.leg.carrier.name in everything


def test_a_filter_for_another_brand_finds_nothing(brand_staff, ours, theirs):
    params = {"legs__carrier__id__exact": theirs.leg.carrier_id}
    assert listed(brand_staff, Consignment, **params) == set()


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (TrackingRecord, "consignment"),
        (TrackingEvent, "tracking_record"),
    ],
)
def test_autocomplete_offers_only_their_brands_rows(brand_staff, ours, theirs, model, field):
    target = {"consignment": "consignment", "tracking_record": "leg"}[field]
    for holdings, expected in ((theirs, 0), (ours, 1)):
        term = (
            holdings.consignment.reference
            if field == "consignment"
            else holdings.leg.tracking_number
        )
        response = brand_staff.get(
            reverse("admin:autocomplete"),
            {
                "app_label": "tracking",
                "model_name": model._meta.model_name,
                "field_name": field,
                "term": term,
            },
        )
        assert response.status_code == 200
        results = response.json()["results"]
        assert len(results) == expected, (target, results)


def errors_of(response) -> str:
    assert response.status_code == 200, "the form was accepted"
    return str(response.context["adminform"].form.errors)


def test_forms_refuse_another_brands_objects(brand_staff, ours, theirs):
    leg_form = {
        "consignment": theirs.consignment.pk,
        "sequence": 2,
        "carrier_name": "Carrier X",
        "events-TOTAL_FORMS": 0,
        "events-INITIAL_FORMS": 0,
    }
    assert "consignment" in errors_of(brand_staff.post(url(TrackingRecord, "add"), leg_form))
    event_form = {
        "tracking_record": theirs.leg.pk,
        "status": "3",
        "occurred_at_0": "2026-03-09",
        "occurred_at_1": "10:00:00",
    }
    assert "tracking_record" in errors_of(brand_staff.post(url(TrackingEvent, "add"), event_form))
    ours_with_their_package = {**event_form, "tracking_record": ours.leg.pk}
    ours_with_their_package["package"] = theirs.package.pk
    refused = brand_staff.post(url(TrackingEvent, "add"), ours_with_their_package)
    assert "package" in errors_of(refused)
    key_form = {"name": "Sneaky", "brand": theirs.consignment.brand_id}
    assert "brand" in errors_of(brand_staff.post(url(ApiKey, "add"), key_form))
    consignment_form = {"reference": "EC-ZZZ-ZZZ-ZZZ", "brand": theirs.consignment.brand_id}
    assert "brand" in errors_of(brand_staff.post(url(Consignment, "add"), consignment_form))
    assert not TrackingEvent.objects.filter(tracking_record=theirs.leg).exclude(pk=theirs.event.pk)
    assert not ApiKey.objects.filter(name="Sneaky").exists()


def test_the_add_pages_offer_only_their_brand(brand_staff, ours, theirs):
    for model in (Consignment, ApiKey):
        page = brand_staff.get(url(model, "add"))
        assert page.status_code == 200
        choices = page.context["adminform"].form.fields["brand"].queryset
        assert list(choices) == [ours.consignment.brand]
        assert theirs.consignment.brand.name not in page.content.decode()


def test_actions_touch_only_their_brands_rows(brand_staff, ours, theirs):
    response = brand_staff.post(
        url(Consignment, "changelist"),
        {
            "action": "export_json",
            "_selected_action": [ours.consignment.pk, theirs.consignment.pk],
            "index": 0,
        },
    )
    assert [c["reference"] for c in response.json()] == [ours.consignment.reference]
    brand_staff.post(
        url(ApiKey, "changelist"),
        {"action": "revoke", "_selected_action": [theirs.key.pk], "index": 0},
    )
    assert ApiKey.objects.get(pk=theirs.key.pk).active


def test_the_csv_export_is_their_brands_only(brand_staff, superuser, ours, theirs):
    body = b"".join(brand_staff.get(reverse("admin:tracking_consignment_export"))).decode()
    assert ours.consignment.reference in body
    assert theirs.consignment.reference not in body
    everything = b"".join(superuser.get(reverse("admin:tracking_consignment_export"))).decode()
    assert theirs.consignment.reference in everything


@pytest.mark.parametrize("name", ["carrier", "codemapping", "suppressedaddress"])
def test_what_brands_share_is_for_superusers(brand_staff, staff_of_no_brand, superuser, ours, name):
    changelist = reverse(f"admin:tracking_{name}_changelist")
    assert brand_staff.get(changelist).status_code == 403
    assert staff_of_no_brand.get(changelist).status_code == 403
    assert superuser.get(changelist).status_code == 200
    if name == "carrier":
        change = reverse("admin:tracking_carrier_change", args=[ours.leg.carrier_id])
        assert brand_staff.get(change).status_code == 403


def test_brand_staff_view_their_brand_but_do_not_change_it(brand_staff, ours):
    brand = ours.consignment.brand
    page = brand_staff.get(url(Brand, "change", brand.pk))
    assert page.status_code == 200
    assert 'name="name"' not in page.content.decode()  # read-only
    brand_staff.post(url(Brand, "change", brand.pk), {"name": "Renamed", "slug": brand.slug})
    brand.refresh_from_db()
    assert brand.name != "Renamed"
    assert brand_staff.get(url(Brand, "add")).status_code == 403


def test_the_index_lists_only_what_brand_staff_may_see(brand_staff, ours):
    page = brand_staff.get(reverse("admin:index")).content.decode()
    assert "Consignments" in page
    assert "Carriers" not in page
    assert "Code mappings" not in page
    assert "Users" not in page
