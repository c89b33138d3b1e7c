"""Every back-office list and change page fits 1280 px (design section 7.5), measured in a real
browser: the document never scrolls sideways and no table is wider than its box. Pages are
opened as a superuser (who sees the most columns) with a few rows of realistic data."""

import os

import pytest
from django.contrib import admin
from django.urls import reverse

from tests import browser as debian

if not debian.available():
    pytest.skip(debian.MISSING, allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.factories import CarrierFactory, add_events, make_consignment, make_leg  # noqa: E402
from tracking import services  # noqa: E402
from tracking.models import Brand, CodeMapping  # noqa: E402

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW = """() => {
  const doc = document.documentElement;
  const wide = [];
  for (const table of document.querySelectorAll("table")) {
    const box = table.parentElement;
    if (table.offsetWidth > box.clientWidth + 1) {
      const name = table.id || table.className || "table";
      wide.push(`${name}: ${table.offsetWidth} px in ${box.clientWidth} px`);
    }
  }
  return {scroll: doc.scrollWidth, client: doc.clientWidth, wide};
}"""


@pytest.fixture
def desk_data(transactional_db, django_user_model):
    django_user_model.objects.create_superuser("admin", "", "layout-password")
    brand = Brand.objects.create(slug="harbour", name="Harbour & Pine Homeware Outlet")
    carriers = [
        CarrierFactory(code="NORTHLINE_EXPRESS", name="Northline Express Parcels"),
        CarrierFactory(code="CITYHOP", name="CityHop Same Day"),
    ]
    for n in range(4):
        consignment = make_consignment(
            brand,
            packages=3,
            customer_reference=f"ORDER-2026-0000{n}-WEB",
            recipient_name="Alexandra Morgan-Fitzwilliam",
            recipient_email=f"alexandra.morgan-fitzwilliam{n}@example-mail.co.uk",
            destination_postcode="BS1 4DJ",
            destination_town="Bristol",
            destination_address="Flat 12, 100 Harbourside Long Street Name",
            destination_country="GB",
        )
        for carrier in carriers:
            leg = make_leg(
                consignment,
                carrier=carrier,
                tracking_number=f"{carrier.code[:4]}0000{n}123456789",
                carrier_service_name="Next day before noon, signature required",
                tracking_url="https://tracking.example.com/parcels/very/long/path?number=1234567890",
            )
            add_events(
                leg,
                (1, "IN_TRANSIT", "Arrived at the Northline hub in Avonmouth, sorted for delivery"),
                (2, "OUT_FOR_DELIVERY", "With the driver, expected between 10:00 and 12:00"),
                (3, "ZUGESTELLT_AN_NACHBARN", "Zugestellt an Nachbarn im Haus gegenüber"),
            )
        services.issue_api_key(name=f"Harbour & Pine shop integration {n}", brand=brand)
    services.issue_api_key(name="Northline Express Parcels event feed", carrier=carriers[0])
    CodeMapping.objects.create(carrier=carriers[0], code="ZUGESTELLT", maps_to="DELIVERED")
    return brand


def pages() -> list[str]:
    """Every tracking admin's list, add page and the change page of its first row."""
    found = []
    for model in admin.site._registry:
        if model._meta.app_label != "tracking":
            continue
        name = f"admin:tracking_{model._meta.model_name}"
        found.append(reverse(f"{name}_changelist"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            found.append(reverse(f"{name}_change", args=[first.pk]))
        found.append(reverse(f"{name}_add"))
    return found


def test_every_list_and_change_page_fits_1280_px(desk_data, live_server):
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=debian.CHROMIUM, args=debian.ARGS)
        context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
        page = context.new_page()
        page.goto(f"{live_server.url}{reverse('admin:login')}")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "layout-password")
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        problems = []
        opened = pages()
        for path in opened:
            response = page.goto(f"{live_server.url}{path}")
            if response.status != 200:
                problems.append(f"{path}: HTTP {response.status}")
                continue
            measured = page.evaluate(OVERFLOW)
            if measured["scroll"] > measured["client"]:
                problems.append(f"{path}: {measured['scroll']} px wide in {measured['client']}")
            problems += [f"{path}: {wide}" for wide in measured["wide"]]
        chromium.close()
    assert len(opened) >= 14
    assert problems == []
