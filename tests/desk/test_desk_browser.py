"""The watchlist and the scorecard in a real browser (Debian's Chromium) at 1280 and 390 px:
no horizontal scroll, no console errors or CSP violations, and axe-core finds nothing."""

import datetime as dt
import os

import pytest
from django.test import Client
from django.utils import timezone

from tests import browser as debian
from tests.desk.conftest import parcel, staff_user

if not debian.available():
    pytest.skip(debian.MISSING, allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.factories import BrandFactory, CarrierFactory  # noqa: E402

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=debian.CHROMIUM, args=debian.ARGS)
        yield launched
        launched.close()


@pytest.fixture
def desk_data():
    brand = BrandFactory(slug="desk-browser", name="Harbour & Pine")
    other = BrandFactory(slug="desk-other", name="Other")
    northline = CarrierFactory(code="NORTHLINE", name="Northline Express")
    cityhop = CarrierFactory(code="CITYHOP", name="CityHop")
    now = timezone.now()

    def ago(days, hours=0):
        return now - dt.timedelta(days=days, hours=hours)

    for n in range(3):
        parcel(brand, northline, created=ago(9), events=[(ago(9, -1), "LABEL_PRINTED")])
        parcel(brand, cityhop, created=ago(12), events=[(ago(12, -1), "IN_TRANSIT")])
        parcel(
            brand,
            northline,
            created=ago(6),
            expected=ago(2).date(),
            events=[(ago(6, -1), "COLLECTED_BY_CARRIER"), (ago(4), "DELIVERY_FAILED")],
        )
        parcel(
            brand,
            cityhop,
            created=ago(8),
            expected=ago(3 + n).date(),
            events=[(ago(8, -1), "COLLECTED_BY_CARRIER"), (ago(6 - n), "DELIVERED")],
        )
    parcel(brand, cityhop, created=ago(3), events=[(ago(3, -1), "DAMAGED"), (ago(2), "ZUSTELLT")])
    parcel(other, cityhop, created=ago(3), events=[(ago(3, -1), "DAMAGED")])
    user = staff_user("desk-agent", brand)
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", ["/admin/watchlist/", "/admin/scorecard/"])
def test_the_desk_pages_fit_and_pass_axe(chromium, live_server, desk_data, width, path):
    context = chromium.new_context(locale="en-GB", viewport={"width": width, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": desk_data, "url": live_server.url}])
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else 0)
    page.goto(live_server.url + path)
    assert page.locator("h1").inner_text() in ("Watchlist", "Carrier scorecard")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if path == "/admin/watchlist/":
        assert page.locator('tr[data-watch="exception"] td').first.inner_text() == "1"
    else:
        assert page.locator("svg[role=img] title").text_content() == "On-time delivery by carrier"
        assert page.locator("#scorecard tbody tr").count() == 2
    violations = Axe().run(page).response["violations"]
    assert [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in violations] == []
    assert problems == []
    shots = os.environ.get("DESK_SHOTS")
    if shots:
        name = path.strip("/").split("/")[-1]
        page.screenshot(path=f"{shots}/desk-{name}-{width}.png", full_page=True)
    context.close()
