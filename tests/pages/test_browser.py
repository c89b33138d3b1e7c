"""The pages in a real browser: Debian's Chromium driven by Playwright against the live server.

Covers what only a browser can show: no console errors or CSP violations, no horizontal
scroll on a phone, the page without JavaScript, the live region picking up a new event (and
surviving a 304), a keyboard-only lookup, and axe-core's accessibility rules.

The live-update test shortens the poll with the TRACKING_POLL_SECONDS setting, which only
tests set (production polls every 30 seconds).
"""

import datetime as dt
import os
import re

import pytest

from tests import browser as debian  # noqa: E402

if not debian.available():
    pytest.skip(debian.MISSING, allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.factories import BrandFactory, CarrierFactory, make_consignment, make_leg  # noqa: E402
from tracking import services  # noqa: E402
from tracking.models import EventSource  # noqa: E402

# Playwright's sync API runs an event loop in this thread; the ORM calls made beside it are
# ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POSTCODE = "BS1 4DJ"
REFERENCE = "EC-BRW-000-001"
RECORD_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=debian.CHROMIUM, args=debian.ARGS)
        yield chromium
        chromium.close()


class Tab:
    """A page plus everything it complained about."""

    def __init__(self, context):
        self.context = context
        self.page = context.new_page()
        self.problems: list[str] = []
        self.page.add_init_script(RECORD_CSP)
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def csp_violations(self) -> list[str]:
        return self.page.evaluate("window.__csp || []")


@pytest.fixture
def tab(browser):
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    yield Tab(context)
    context.close()


@pytest.fixture
def shipment(transactional_db):
    brand = BrandFactory(
        slug="browser",
        name="Harbour & Pine",
        logo_url="/static/demo/harbour-and-pine.svg",
        primary_colour="#1f4e5f",
        accent_colour="#b5542d",
        support_email="help@harbour.example",
    )
    consignment = make_consignment(
        brand,
        packages=2,
        reference=REFERENCE,
        recipient_name="Alex Morgan",
        destination_address="12 Harbour Street",
        destination_town="Bristol",
        destination_postcode=POSTCODE,
        expected_delivery_date=(dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date(),
    )
    first, _second = list(consignment.packages.order_by("sequence"))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    linehaul = make_leg(
        consignment,
        carrier=CarrierFactory(code="NORTHLINE", name="Northline Freight"),
        tracking_number="NL1",
        tracking_url="https://track.northline.example/NL1",
    )
    lastmile = make_leg(
        consignment,
        carrier=CarrierFactory(code="CITYHOP", name="CityHop Couriers"),
        tracking_number="CH1",
        tracking_url="https://track.cityhop.example/CH1",
    )
    steps = [
        (linehaul, 30, "COLLECTED_BY_CARRIER", "Collected", "", None),
        (linehaul, 20, "IN_TRANSIT", "Arrived at regional depot", "", None),
        (lastmile, 10, "OUT_FOR_DELIVERY", "Out for delivery with driver", "", None),
        (lastmile, 5, "DELIVERED", "Delivered to recipient", "A. Morgan", first),
    ]
    for leg, hours, code, description, signed_by, package in steps:
        services.record_event(
            leg=leg,
            source=EventSource.SORTED,
            code=code,
            description=description,
            location="Bristol",
            signed_by=signed_by,
            occurred_at=now - dt.timedelta(hours=hours),
            package=package,
        )
    return consignment


def page_url(live_server, path=f"/track/{REFERENCE}/"):
    return f"{live_server.url}{path}"


def serious(results) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_the_page_renders_without_console_errors_or_csp_violations(tab, live_server, shipment):
    page = tab.page
    page.goto(page_url(live_server))
    expect(page.locator("h1")).to_have_text("Out for delivery")
    assert page.evaluate("typeof window.htmx") == "object"
    # The package switcher became ARIA tabs.
    assert page.locator("[role=tablist] [role=tab]").count() == 2
    assert page.locator("[role=tabpanel]:not([hidden])").count() == 1
    page.get_by_role("tab", name="Parcel 2").click()
    expect(page.locator("[role=tabpanel]:not([hidden]) h3")).to_have_text("Parcel 2")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("[role=tabpanel]:not([hidden]) h3")).to_have_text("Parcel 1")
    assert tab.csp_violations() == []
    assert tab.problems == []


def test_nothing_scrolls_sideways_on_a_360px_phone(browser, live_server, shipment):
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    for path in ("/", f"/track/{REFERENCE}/", f"/track/{REFERENCE}/?lang=de", "/no/such/page/"):
        page.goto(page_url(live_server, path))
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
    context.close()


def test_everything_works_without_javascript(browser, live_server, shipment):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(page_url(live_server))
    # Both packages' timelines are there, as sections behind jump links.
    expect(page.locator("section.package")).to_have_count(2)
    for section in page.locator("section.package").all():
        expect(section).to_be_visible()
    expect(page.locator(".event__detail", has_text="Delivered to recipient")).to_be_visible()
    expect(page.get_by_text("Alex Morgan")).to_have_count(0)
    page.fill("#postcode", "bs1 4dj")
    page.click("form.verify button[type=submit]")
    expect(page.get_by_text("Alex Morgan")).to_be_visible()
    expect(page.get_by_text("Signed for by A. Morgan").first).to_be_visible()
    context.close()


def test_the_live_region_picks_up_a_new_event(tab, live_server, shipment, settings):
    settings.TRACKING_POLL_SECONDS = 1
    page = tab.page
    polls: list[int] = []
    page.on(
        "response",
        lambda r: polls.append(r.status) if r.request.headers.get("hx-request") else None,
    )
    with page.expect_response(lambda r: r.status == 304, timeout=5000):
        page.goto(page_url(live_server))
    # Nothing new: the poll was answered 304 and the region stays as it was.
    assert 304 in polls, polls
    expect(page.get_by_text("Out for delivery with driver").first).to_be_visible()
    expect(page.locator("h1")).to_have_text("Out for delivery")

    leg = shipment.legs.order_by("sequence").last()
    second = shipment.packages.order_by("sequence").last()
    page.get_by_role("tab", name="Parcel 2").click()
    # A delay (design section 7.1): the warning appears, and the status line says so.
    services.record_event(
        leg=leg,
        source=EventSource.SORTED,
        code="DELAYED",
        description="Sorted onto a later van",
        location="Bristol",
        package=second,
    )
    warning = page.locator("[data-warning]")
    expect(warning).to_contain_text("Sorted onto a later van", timeout=8000)
    expect(page.locator("#live-status")).to_contain_text("Warning: Delayed")
    expect(page.get_by_text("Sorted onto a later van").first).to_be_visible()
    assert 200 in polls
    # The visitor's package tab survives the update.
    expect(page.locator("[role=tabpanel]:not([hidden]) h3")).to_have_text("Parcel 2")

    # Delivered: the last poll answers 286 and polling stops.
    services.record_event(
        leg=leg,
        source=EventSource.SORTED,
        code="DELIVERED",
        description="In the porch",
        package=second,
    )
    expect(page.get_by_text("2 of 2 packages delivered")).to_be_visible(timeout=8000)
    expect(page.locator("[data-warning]")).to_have_count(0)  # delivered clears the delay
    assert 286 in polls
    # htmx marks the polling element as cancelled (its own bookkeeping, no waiting needed).
    assert page.evaluate("document.getElementById('live')['htmx-internal-data'].cancelled")
    assert tab.problems == []
    assert tab.csp_violations() == []


def test_the_lookup_works_with_the_keyboard_alone(tab, live_server, shipment):
    page = tab.page
    page.goto(page_url(live_server, "/"))
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "reference":
            break
    assert page.evaluate("document.activeElement.id") == "reference"
    page.keyboard.type("ec brw 000 001")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/track/{REFERENCE}/")
    expect(page.locator("h1")).to_have_text("Out for delivery")
    # The skip link is the first stop and leads to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert tab.problems == []


def test_axe_finds_no_serious_problems(tab, live_server, shipment):
    found = {}
    for path in ("/", f"/track/{REFERENCE}/", "/no/such/page/", "/track/EC-ZZZ-ZZZ-ZZZ/"):
        tab.page.goto(page_url(live_server, path))
        found[path] = serious(Axe().run(tab.page))
    assert found == dict.fromkeys(found, [])


def test_axe_finds_no_serious_problems_on_the_verified_page(tab, live_server, shipment):
    page = tab.page
    page.goto(page_url(live_server))
    page.fill("#postcode", POSTCODE)
    page.click("form.verify button[type=submit]")
    expect(page.get_by_text("Alex Morgan")).to_be_visible()
    assert serious(Axe().run(page)) == []
    # A wrong postcode's error page, in German, too.
    context = tab.context.browser.new_context(locale="de-DE")
    other = context.new_page()
    other.goto(page_url(live_server, f"/track/{REFERENCE}/?lang=de"))
    other.fill("#postcode", "XX1 1XX")
    other.click("form.verify button[type=submit]")
    expect(other.locator("#postcode-error")).to_be_visible()
    assert serious(Axe().run(other)) == []
    context.close()


@pytest.fixture
def delayed(shipment):
    """In transit, then the carrier's DELAYED scan (design section 7.1)."""
    consignment = make_consignment(
        shipment.brand, reference="EC-BRW-000-002", destination_postcode=POSTCODE
    )
    leg = make_leg(consignment, carrier=CarrierFactory(code="NORTHLINE", name="Northline Freight"))
    now = dt.datetime.now(dt.UTC)
    for hours, code, description in (
        (5, "COLLECTED_BY_CARRIER", "Collected"),
        (3, "IN_TRANSIT", "Arrived at regional depot"),
        (1, "DELAYED", "Delayed: vehicle breakdown"),
    ):
        services.record_event(
            leg=leg,
            source=EventSource.SORTED,
            code=code,
            description=description,
            location="Birmingham",
            occurred_at=now - dt.timedelta(hours=hours),
        )
    return leg


def test_a_delay_is_one_warning_element_at_the_stage_reached(browser, live_server, delayed):
    for language, words, step in (
        ("en", "Delayed", "In transit"),
        ("de", "Verzögert", "Unterwegs"),
    ):
        context = browser.new_context(locale=language, viewport={"width": 390, "height": 844})
        tab = Tab(context)
        tab.page.goto(page_url(live_server, f"/track/EC-BRW-000-002/?lang={language}"))
        warning = tab.page.locator("[data-warning]")
        expect(warning).to_have_count(1)
        expect(warning).to_have_attribute("data-warning", "delay")
        expect(warning.locator(".alert__title")).to_have_text(words)
        expect(warning.locator(".alert__detail")).to_have_text("Delayed: vehicle breakdown")
        current = tab.page.locator(".step[aria-current=step]")
        expect(current).to_have_class(re.compile(r"\bstep--warning\b.*\btone-warning\b"))
        expect(current.locator(".step__label")).to_contain_text(step)
        # The warning tone, not the brand's green: the dot takes the tone's colour.
        colour = current.locator(".step__dot").evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(138, 79, 0)", colour
        assert tab.page.evaluate("document.documentElement.scrollWidth") <= 390
        assert serious(Axe().run(tab.page)) == [], language
        assert tab.problems == [] and tab.csp_violations() == []
        context.close()

    # A later progress scan clears it, and the live region drops the element.
    services.record_event(
        leg=delayed,
        source=EventSource.SORTED,
        code="IN_TRANSIT",
        description="Back on the road",
        occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
    )
    context = browser.new_context()
    page = context.new_page()
    page.goto(page_url(live_server, "/track/EC-BRW-000-002/"))
    expect(page.locator("[data-warning]")).to_have_count(0)
    expect(page.locator(".step--warning")).to_have_count(0)
    context.close()


def test_the_lookup_finds_a_parcel_by_tracking_number_without_javascript(
    browser, live_server, shipment
):
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    page.goto(page_url(live_server, "/"))
    page.get_by_label("Tracking reference or number").fill("ch1")
    page.get_by_label("Delivery postcode").fill("XX1 1XX")
    page.click("form.lookup__form button[type=submit]")
    expect(page.locator("#reference-error")).to_contain_text("that number and postcode")
    expect(page.locator("#reference")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#lookup-postcode")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Delivery postcode").fill("bs1 4dj")
    page.click("form.lookup__form button[type=submit]")
    page.wait_for_url(f"**/track/{REFERENCE}/")
    expect(page.locator("h1")).to_have_text("Out for delivery")
    # Found, not verified: the private details still need the postcode on the page.
    expect(page.get_by_text("Alex Morgan")).to_have_count(0)
    expect(page.locator("#postcode")).to_be_visible()
    assert context.cookies() == []
    context.close()


def test_axe_finds_no_serious_problems_on_the_lookups_answers(tab, live_server, shipment):
    page = tab.page
    for reference, postcode in (("NL1", ""), ("NL1", "XX1 1XX")):
        page.goto(page_url(live_server, "/?lang=de"))
        page.fill("#reference", reference)
        page.fill("#lookup-postcode", postcode)
        page.click("form.lookup__form button[type=submit]")
        expect(page.locator(".field-error, #reference-error")).to_have_count(1)
        assert serious(Axe().run(page)) == [], (reference, postcode)
    assert tab.problems == [] or all("404" in p or "400" in p for p in tab.problems)
