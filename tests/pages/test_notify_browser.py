"""The "Email me updates" form and the emails it leads to, in a real browser (section 7.4).

The form on a 390 px phone with axe-core clean, with htmx and without JavaScript, and inside a
brand's iframe on another site with third-party cookies blocked (the shop of
tests/pages/test_embed_browser.py, rebuilt here: test modules share no code but
tests/helpers.py). Then the emails themselves: an update and a confirmation, in English and
German, composed as the worker composes them (tracking.delivery.email_content) and opened at
390 px, where nothing may scroll sideways and the button must be a comfortable tap.
EMAIL_SCREENSHOTS=docs/screenshots also writes docs/screenshots/email-{update,confirm}-
{en,de}-390.png, the README's pictures of them.
"""

import datetime as dt
import http.server
import os
import re
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests import browser as debian  # noqa: E402

if not debian.available():
    pytest.skip(debian.MISSING, allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.factories import BrandFactory, CarrierFactory, make_consignment, make_leg  # noqa: E402
from tracking import services  # noqa: E402
from tracking.delivery.email_content import compose  # noqa: E402
from tracking.models import (  # noqa: E402
    EmailKind,
    EmailState,
    EmailSubscriber,
    EventSource,
    OutboundEmail,
    SubscriberState,
)
from tracking.services import notifications  # noqa: E402

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFERENCE = "EC-NTF-000-001"
THIRD_PARTY_COOKIES_BLOCKED = "--test-third-party-cookie-phaseout"
PHONE = {"width": 390, "height": 844}
PUBLIC_URL = "https://track.example.com"
SHOP_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Your order</title></head><body><h1>Your order</h1>
<script src="{portal}/static/tracking/embed.js" data-reference="{reference}" async></script>
</body></html>"""
# Without JavaScript the snippet cannot run: a plain iframe, tall enough for the whole page.
PLAIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Your order</title></head><body><h1>Your order</h1>
<iframe src="{portal}/embed/{reference}/" title="Parcel tracking"
        style="display: block; width: 100%; height: 2400px; border: 0"></iframe>
</body></html>"""


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=debian.CHROMIUM, args=[*debian.ARGS, THIRD_PARTY_COOKIES_BLOCKED]
        )
        yield chromium
        chromium.close()


class ShopSite:
    """A brand's shop on its own origin (127.0.0.1, while the portal is localhost): the
    documented snippet at /, a plain iframe at /plain."""

    def __init__(self, portal: str):
        pages = {
            path: page.format(portal=portal, reference=REFERENCE).encode()
            for path, page in (("/", SHOP_PAGE), ("/plain", PLAIN_PAGE))
        }

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                body = pages.get(self.path, b"")
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def shop(live_server):
    site = ShopSite(live_server.url)
    yield site
    site.close()


@pytest.fixture
def parcel(transactional_db, live_server, settings):
    """Out for delivery, from a brand with a logo and its own colours; links in the emails
    point at the live server, so the logo loads in the screenshots."""
    settings.PUBLIC_URL = live_server.url
    brand = BrandFactory(
        slug="notify-browser",
        name="Harbour & Pine",
        logo_url="/static/demo/harbour-and-pine.svg",
        primary_colour="#1f4e5f",
        accent_colour="#b5542d",
        support_email="help@harbour.example",
        time_zone="Europe/London",
    )
    consignment = make_consignment(
        brand,
        reference=REFERENCE,
        destination_town="Bristol",
        expected_delivery_date=dt.datetime.now(ZoneInfo("Europe/London")).date(),
    )
    leg = make_leg(consignment, carrier=CarrierFactory(code="CITYHOP", name="CityHop Couriers"))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for hours, code, text in (
        (20, "COLLECTED_BY_CARRIER", "Collected from the warehouse"),
        (6, "IN_TRANSIT", "Arrived at the Bristol depot"),
    ):
        services.record_event(
            leg=leg,
            source=EventSource.SORTED,
            code=code,
            description=text,
            location="Bristol",
            occurred_at=now - dt.timedelta(hours=hours),
        )
    return leg


def serious(page) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def pending(email: str) -> EmailSubscriber:
    return EmailSubscriber.objects.get(email=email, state=SubscriberState.PENDING)


def test_the_form_signs_up_with_htmx_on_a_phone(browser, live_server, parcel):
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server.url}/track/{REFERENCE}/")
    form = page.locator("#notify-form")
    expect(form).to_be_visible()
    assert no_sideways_scroll(page)
    assert serious(page) == []

    # A mistyped address: the error beside the field, which has the focus again.
    page.get_by_label("Email address").fill("sam@example")
    with page.expect_response(lambda r: "/notify/" in r.url) as answer:
        page.get_by_role("button", name="Email me updates").click()
    assert answer.value.status == 200 and answer.value.request.headers.get("hx-request")
    expect(page.locator("#notify-error")).to_contain_text("name@example.com")
    expect(page.locator("#notify-email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#notify-email")).to_be_focused()
    assert page.url.endswith(f"/track/{REFERENCE}/")  # no page load: htmx swapped the form
    assert serious(page) == []

    page.get_by_label("Email address").fill("sam@example.com")
    page.get_by_role("button", name="Email me updates").click()
    status = page.locator("#notify-status")
    expect(status).to_contain_text("Check your inbox: we sent a link to confirm.")
    expect(status).to_contain_text("sam@example.com")
    expect(page.locator("#notify-form")).to_have_count(0)
    assert status.get_attribute("role") == "status"  # the same live region, now filled
    assert pending("sam@example.com").language == "en"
    assert no_sideways_scroll(page)
    assert serious(page) == []
    assert context.cookies() == []
    assert problems == []
    context.close()


def test_the_form_works_without_javascript_in_german(browser, live_server, parcel):
    context = browser.new_context(java_script_enabled=False, viewport=PHONE, locale="de-DE")
    page = context.new_page()
    page.goto(f"{live_server.url}/track/{REFERENCE}/?lang=de")
    expect(page.locator("#notify-heading")).to_have_text("Updates per E-Mail")
    page.get_by_role("button", name="Per E-Mail informieren").click()  # nothing typed
    expect(page.locator("#notify-error")).to_contain_text("Geben Sie Ihre E-Mail-Adresse ein.")
    assert page.title().startswith("Fehler:")
    page.locator("#notify-email").fill("kim@example.de")
    page.get_by_role("button", name="Per E-Mail informieren").click()
    expect(page.locator("#notify-status")).to_contain_text("Sehen Sie in Ihrem Posteingang nach")
    assert page.url.endswith("#notify")  # the answer opens at the form
    assert pending("kim@example.de").language == "de"
    assert no_sideways_scroll(page)
    assert context.cookies() == []
    context.close()


def test_axe_finds_nothing_serious_in_the_answers_without_htmx(browser, live_server, parcel):
    # axe-core needs JavaScript; without htmx the form posts as it does with none.
    context = browser.new_context(viewport=PHONE, locale="de-DE")
    page = context.new_page()
    page.route("**/htmx*.js", lambda route: route.abort())
    page.goto(f"{live_server.url}/track/{REFERENCE}/?lang=de")
    for typed, shown in (("kim@", "#notify-error"), ("kim@example.de", "#notify-status .alert")):
        page.locator("#notify-email").fill(typed)
        with page.expect_navigation():
            page.locator("#notify-form button[type=submit]").click()
        expect(page.locator(shown)).to_be_visible()
        assert serious(page) == [], typed
    context.close()


def test_the_form_works_inside_a_brands_iframe_without_cookies(browser, live_server, parcel, shop):
    brand = parcel.consignment.brand
    brand.embed_origins = shop.origin
    brand.save()
    for javascript in (True, False):
        context = browser.new_context(viewport=PHONE, java_script_enabled=javascript)
        page = context.new_page()
        page.goto(shop.origin if javascript else f"{shop.origin}/plain")
        frame = page.frame_locator("iframe")
        expect(frame.locator("#notify-form")).to_be_visible()
        email = f"frame-{'js' if javascript else 'nojs'}@example.com"
        frame.locator("#notify-email").fill(email)
        frame.locator("#notify-form button[type=submit]").click()
        expect(frame.locator("#notify-status")).to_contain_text("Check your inbox")
        inner = next(f for f in page.frames if "/embed/" in f.url)
        assert inner.evaluate("document.cookie = 'probe=1; path=/'; document.cookie") == ""
        assert context.cookies() == []
        assert pending(email)
        if javascript:  # axe-core runs in the page: not without JavaScript
            assert serious(page) == []
        context.close()


def test_the_pages_the_emails_link_to_work_on_a_phone(browser, live_server, parcel):
    notifications.sign_up(
        consignment=parcel.consignment, email="sam@example.com", language="de", client="1"
    )
    subscriber = pending("sam@example.com")
    context = browser.new_context(viewport=PHONE, locale="en-GB")  # the subscriber's German wins
    page = context.new_page()
    for purpose, button, done in (
        ("confirm", "Bestätigen", "E-Mail-Updates sind eingeschaltet"),
        ("unsubscribe", "Abmelden", "Sie sind abgemeldet"),
    ):
        page.goto(
            f"{live_server.url}/notify/{purpose}/{notifications.token_for(subscriber, purpose)}/"
        )
        assert no_sideways_scroll(page) and serious(page) == [], purpose
        page.get_by_role("button", name=button).click()
        expect(page.locator("h1")).to_have_text(done)
        assert no_sideways_scroll(page) and serious(page) == [], purpose
    subscriber.refresh_from_db()
    assert subscriber.state == SubscriberState.UNSUBSCRIBED
    page.goto(f"{live_server.url}/notify/confirm/not-a-token/")
    expect(page.locator("h1")).to_have_text("This link does not work")
    assert serious(page) == []
    assert context.cookies() == []
    context.close()


# -- The emails ---------------------------------------------------------------------------------


def emails_for(leg, language: str) -> dict[str, OutboundEmail]:
    """A confirmation, and after confirming and an Out for delivery scan an update, for a
    subscriber who signed up in `language`: built by the services, as the page does."""
    consignment = leg.consignment
    address = f"sam.{language}@example.com"
    notifications.sign_up(
        consignment=consignment,
        email=address,
        language=language,
        client=f"192.0.2.{ord(language[0])}",
    )
    subscriber = consignment.email_subscribers.get(email=address)
    confirmation = OutboundEmail.objects.get(subscriber=subscriber, kind=EmailKind.CONFIRM)
    notifications.confirm(subscriber)
    OutboundEmail.objects.filter(pk=confirmation.pk).update(state=EmailState.SENT)
    if not consignment.packages.filter(status=4).exists():
        services.record_event(
            leg=leg,
            source=EventSource.SORTED,
            code="OUT_FOR_DELIVERY",
            description="Out for delivery with driver",
            location="Bristol",
            occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20),
        )
    else:
        notifications.owe({consignment.pk: ["out_for_delivery"]}, dt.datetime.now(dt.UTC))
    update = OutboundEmail.objects.get(subscriber=subscriber, kind=EmailKind.UPDATE)
    return {"confirm": confirmation, "update": update}


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_emails_read_well_on_a_390px_phone(
    browser, live_server, parcel, language, tmp_path, settings
):
    shots = Path(os.environ.get("EMAIL_SCREENSHOTS") or tmp_path)
    # The links say what a customer would see; the browser fetches them from the live server.
    settings.PUBLIC_URL = PUBLIC_URL
    context = browser.new_context(viewport=PHONE, locale=language)
    context.route(
        f"{PUBLIC_URL}/**",
        lambda route: route.fulfill(
            response=context.request.fetch(route.request.url.replace(PUBLIC_URL, live_server.url))
        ),
    )
    page = context.new_page()
    for kind, email in emails_for(parcel, language).items():
        composed = compose(email)
        page.set_content(composed.html, wait_until="load")
        assert page.evaluate("document.documentElement.lang") == language
        assert no_sideways_scroll(page), kind
        logo = page.locator("img")
        assert logo.get_attribute("alt") == "Harbour & Pine"
        assert logo.evaluate("i => i.complete && i.naturalWidth > 0"), "the logo loads"
        button = page.locator(
            "a",
            has_text=re.compile(r"^(Confirm|Bestätigen|See every update|Alle Meldungen ansehen)$"),
        )
        box = button.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 120, box
        colour = button.evaluate("a => getComputedStyle(a.closest('td')).backgroundColor")
        assert colour == "rgb(31, 78, 95)", colour  # the brand's primary colour
        if kind == "update":
            assert page.locator("a", has_text=re.compile("Unsubscribe|Abmelden")).count() == 1
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": PHONE["width"], "height": height})
        page.screenshot(path=str(shots / f"email-{kind}-{language}-390.png"))
        page.set_viewport_size(PHONE)
    context.close()
