"""The embed in a real browser: a shop's page on another origin frames the tracking page.

The portal is pytest-django's live server (http://localhost:PORT); the shop is a tiny HTTP
server on http://127.0.0.1:OTHER_PORT serving a page with the documented one-line snippet at
/ and, at /plain, a plain iframe without embed.js whose own inline listener records what the
frame tells it. localhost and 127.0.0.1 are different sites, so the frame is a third-party
context, and Chromium is started with third-party cookies phased out, as browsers
increasingly do.
"""

import datetime as dt
import http.server
import os
import threading

import pytest

from tests import browser as debian  # noqa: E402

if not debian.available():
    pytest.skip(debian.MISSING, allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.factories import BrandFactory, CarrierFactory, make_consignment, make_leg  # noqa: E402
from tracking import services  # noqa: E402
from tracking.models import EventSource  # noqa: E402

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Chromium then treats cookies in a cross-site frame as browsers that block them do.
THIRD_PARTY_COOKIES_BLOCKED = "--test-third-party-cookie-phaseout"
REFERENCE = "EC-EMB-000-001"
POSTCODE = "BS1 4DJ"
SHOP_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Your order</title></head><body><h1>Your order</h1>
<script src="{portal}/static/tracking/embed.js" data-reference="{reference}" async></script>
<p id="after">Questions? Call us.</p></body></html>"""
# A shop builder's page that allows an iframe but no embed.js: no ?parent= in the URL. (Filled
# in with str.replace: the script's braces would confuse str.format.)
PLAIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Your order</title><script>
window.heard = [];
window.addEventListener("message", function (event) {
  var frame = document.getElementById("tracking");
  window.heard.push({origin: event.origin, data: event.data,
                     fromFrame: event.source === frame.contentWindow});
  if (event.data && event.data.type === "tracking-portal:height") {
    frame.style.height = event.data.height + "px";
  }
});
</script></head><body><h1>Your order</h1>
<iframe id="tracking" src="{portal}/embed/{reference}/" title="Parcel tracking"
        style="display: block; width: 100%; height: 300px; border: 0"></iframe>
</body></html>"""


class ShopSite:
    """A brand's shop on its own origin: the snippet at /, a plain iframe at /plain."""

    def __init__(self, portal: str):
        pages = {
            "/": SHOP_PAGE.format(portal=portal, reference=REFERENCE.lower()).encode(),
            "/plain": PLAIN_PAGE.replace("{portal}", portal)
            .replace("{reference}", REFERENCE)
            .encode(),
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


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=debian.CHROMIUM, args=[*debian.ARGS, THIRD_PARTY_COOKIES_BLOCKED]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def shops(live_server):
    allowed, other = ShopSite(live_server.url), ShopSite(live_server.url)
    yield allowed, other
    allowed.close()
    other.close()


@pytest.fixture
def journey(shops, settings):
    """A consignment out for delivery whose brand lets the first shop embed it."""
    settings.TRACKING_POLL_SECONDS = 1
    allowed, _other = shops
    brand = BrandFactory(slug="embed", name="Harbour & Pine", embed_origins=allowed.origin)
    consignment = make_consignment(
        brand,
        reference=REFERENCE,
        recipient_name="Alex Morgan",
        destination_town="Bristol",
        destination_postcode=POSTCODE,
    )
    leg = make_leg(consignment, carrier=CarrierFactory(code="CITYHOP", name="CityHop Couriers"))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for hours, code, text in [
        (8, "COLLECTED_BY_CARRIER", "Collected"),
        (3, "OUT_FOR_DELIVERY", "Out for delivery with driver"),
    ]:
        services.record_event(
            leg=leg,
            source=EventSource.SORTED,
            code=code,
            description=text,
            location="Bristol",
            occurred_at=now - dt.timedelta(hours=hours),
        )
    return leg


def frame_height(page) -> float:
    return page.evaluate("parseFloat(document.querySelector('iframe').style.height)")


def test_the_frame_shows_the_journey_and_follows_its_height(browser, shops, journey):
    allowed, _other = shops
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(allowed.origin)
    frame = page.frame_locator("iframe")
    expect(frame.get_by_text(f"Tracking {REFERENCE}")).to_be_visible()
    page.wait_for_function("document.querySelector('iframe').style.height !== '640px'")
    before = frame_height(page)
    content = page.frames[1].evaluate("document.documentElement.getBoundingClientRect().height")
    assert abs(before - content) <= 2  # sized to its content: no scrollbar inside

    now = dt.datetime.now(dt.UTC)
    for n in range(6):
        services.record_event(
            leg=journey,
            source=EventSource.SORTED,
            code="IN_TRANSIT",
            description=f"Extra scan {n}",
            location="Bristol",
            occurred_at=now - dt.timedelta(minutes=30 - n),
        )
    expect(frame.locator(".event__detail", has_text="Extra scan 5")).to_be_visible(timeout=10_000)
    page.wait_for_function(
        f"parseFloat(document.querySelector('iframe').style.height) > {before + 100}"
    )
    page.close()


def test_a_shop_whose_origin_is_not_allowed_shows_nothing(browser, shops, journey):
    _allowed, other = shops
    page = browser.new_page()
    page.goto(other.origin)
    page.wait_for_timeout(1500)
    expect(page.frame_locator("iframe").get_by_text(REFERENCE)).to_have_count(0)
    assert frame_height(page) == 640  # and nobody told it anything
    page.close()


def test_verification_inside_the_frame_works_without_cookies(browser, shops, journey):
    allowed, _other = shops
    context = browser.new_context()
    page = context.new_page()
    page.goto(allowed.origin)
    frame = page.frame_locator("iframe")
    expect(frame.get_by_text(f"Tracking {REFERENCE}")).to_be_visible()
    inner = next(f for f in page.frames if "/embed/" in f.url)
    probe = "document.cookie = 'probe=1; path=/'; document.cookie"
    assert inner.evaluate(probe) == ""  # this browser keeps no cookie in the frame
    expect(frame.get_by_text("Alex Morgan")).to_have_count(0)

    frame.locator("#postcode").fill("bs1 4dj")
    frame.locator("form.verify button[type=submit]").click()
    expect(frame.get_by_text("Alex Morgan")).to_be_visible()
    assert context.cookies() == []
    # Live updates stay verified: the poll carries the access token too.
    services.record_event(
        leg=journey,
        source=EventSource.SORTED,
        code="IN_TRANSIT",
        description="Back at the depot",
        location="Bristol",
        occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
    )
    expect(frame.locator(".event__detail", has_text="Back at the depot")).to_be_visible(
        timeout=10_000
    )
    expect(frame.get_by_text("Alex Morgan")).to_be_visible()
    context.close()


def test_the_snippet_ignores_messages_from_anyone_but_the_portal(browser, shops, journey):
    allowed, _other = shops
    page = browser.new_page()
    page.goto(allowed.origin)
    page.wait_for_function("document.querySelector('iframe').style.height !== '640px'")
    sized = frame_height(page)
    page.evaluate(
        "window.postMessage({type: 'tracking-portal:height', height: 77}, '*');"
        "const other = document.createElement('iframe'); document.body.appendChild(other);"
        "other.contentWindow.parent.postMessage({type: 'tracking-portal:height', height: 88}, '*');"
    )
    page.wait_for_timeout(500)
    assert frame_height(page) == sized
    page.close()


def heard(page) -> list[dict]:
    return page.evaluate("window.heard")


def test_a_plain_iframe_without_embed_js_tells_its_page_the_height(
    browser, shops, journey, live_server
):
    allowed, _other = shops
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(f"{allowed.origin}/plain")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_text(f"Tracking {REFERENCE}")).to_be_visible()
    page.wait_for_function("window.heard.length > 0")
    message = heard(page)[0]
    assert message["origin"] == live_server.url
    assert message["fromFrame"]
    assert message["data"]["type"] == "tracking-portal:height"
    assert message["data"]["reference"] == REFERENCE
    inner = next(f for f in page.frames if "/embed/" in f.url)
    content = inner.evaluate("document.documentElement.getBoundingClientRect().height")
    page.wait_for_function(
        f"Math.abs(parseFloat(document.querySelector('iframe').style.height) - {content}) <= 2"
    )

    # Another language inside the frame: the referrer is now the portal itself, so the
    # frame's links carry the shop's origin on, and the next page still reports.
    before = len(heard(page))
    frame.get_by_role("link", name="Deutsch").click()
    expect(frame.get_by_text(f"Sendung {REFERENCE}")).to_be_visible()
    page.wait_for_function(f"window.heard.length > {before}")
    inner = next(f for f in page.frames if "/embed/" in f.url)
    assert f"parent={allowed.origin.replace(':', '%3A').replace('/', '%2F')}" in inner.url
    assert all(m["origin"] == live_server.url and m["fromFrame"] for m in heard(page))
    page.close()


def test_a_plain_iframe_on_a_page_the_brand_did_not_allow_hears_nothing(
    browser, shops, journey, live_server
):
    _allowed, other = shops
    page = browser.new_page()

    # As if the browser ignored frame-ancestors: the frame renders, and its own check is all
    # that stands between the height and a page the brand never named.
    def without_framing_policy(route):
        response = route.fetch()
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() not in ("content-security-policy", "x-frame-options")
        }
        route.fulfill(response=response, headers=headers)

    page.route(f"{live_server.url}/embed/**", without_framing_policy)
    page.goto(f"{other.origin}/plain")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_text(f"Tracking {REFERENCE}")).to_be_visible()
    inner = next(f for f in page.frames if "/embed/" in f.url)
    inner.wait_for_load_state("load")
    page.wait_for_timeout(500)
    assert heard(page) == []
    assert page.evaluate("document.querySelector('iframe').style.height") == "300px"
    page.close()
