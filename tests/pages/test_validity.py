"""Every page is valid HTML by the Nu Html Checker (vnu.jar, the W3C validator's engine).

`make test` installs vnu.jar into .venv/vnu (npm's vnu-jar); VNU_JAR points elsewhere. The
pages are rendered through the test client, written to files and checked in one run of the
checker, since starting Java costs more than checking a page. Without java or vnu.jar the
tests skip, except under CI=true, where they fail (the `vnu` mark, tests/conftest.py).
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from unittest import mock
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import Client

from tests.factories import CarrierFactory, make_consignment, make_leg
from tests.helpers import POSTCODE, form_token, record_event
from tracking import access
from tracking.services import notifications

VNU_JAR = Path(
    os.environ.get(
        "VNU_JAR", settings.BASE_DIR / ".venv/vnu/node_modules/vnu-jar/build/dist/vnu.jar"
    )
)
SHOP = "https://shop.harbour.example"

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.vnu,
    pytest.mark.skipif(
        not VNU_JAR.exists() or shutil.which("java") is None,
        reason=f"HTML VALIDATION SKIPPED: needs java and {VNU_JAR} (`make test` installs it)",
    ),
]


def validate(pages: dict[str, bytes], folder: Path) -> dict[str, list[str]]:
    """The checker's errors for each page, by name."""
    paths = {}
    for name, html in pages.items():
        paths[name] = folder / f"{name}.html"
        paths[name].write_bytes(html)
    result = subprocess.run(
        ["java", "-jar", str(VNU_JAR), "--format", "json", "--exit-zero-always", "--stdout"]
        + [str(path) for path in paths.values()],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    errors: dict[str, list[str]] = {name: [] for name in pages}
    by_path = {str(path): name for name, path in paths.items()}
    for message in json.loads(result.stdout)["messages"]:
        if message["type"] == "error" or message.get("subType") == "fatal":
            name = by_path.get(urlparse(message.get("url", "")).path, "?")
            extract = " ".join(message.get("extract", "").split())[:120]
            errors.setdefault(name, []).append(
                f"line {message.get('lastLine')}: {message['message']} [{extract}]"
            )
    return errors


@pytest.fixture
def pages(client, page_brand, shipment, page_url):
    page_brand.embed_origins = SHOP
    page_brand.logo_url = "/static/demo/harbour-and-pine.svg"
    page_brand.save()
    embed = f"/embed/{shipment.reference}/"
    delayed = make_consignment(page_brand, packages=2, reference="EC-VAL-000-001")
    leg = make_leg(delayed, carrier=CarrierFactory(code="SWIFT", name="Swift"))
    record_event(leg, 0, "IN_TRANSIT", "At the hub")
    record_event(leg, 1, "DELAYED", "Delayed: vehicle breakdown", package=delayed.packages.first())
    lookup_token = form_token(client.get("/"))
    keeping_errors = Client(raise_request_exception=False)
    with mock.patch.object(access, "timeline_for_reference", side_effect=RuntimeError("a bug")):
        crashed = keeping_errors.get(page_url)
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError):
        unavailable = keeping_errors.get(page_url)
    rendered = {
        "server-error": crashed,
        "unavailable": unavailable,
        "lookup": client.get("/"),
        "lookup-unknown": client.get("/track/?reference=EC-ZZZ-ZZZ-ZZZ"),
        "tracking": client.get(page_url),
        "tracking-history-restore": client.get(
            page_url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
        ),
        "tracking-refused-form": client.post(
            f"{page_url}verify/", {"postcode": POSTCODE, "token": "forged"}
        ),
        "embed": client.get(embed, {"parent": SHOP}),
        "embed-plain": client.get(embed),
        "not-found": client.get("/no/such/page/"),
        "tracking-delayed": client.get("/track/EC-VAL-000-001/?lang=de"),
        "embed-delayed": client.get("/embed/EC-VAL-000-001/", {"parent": SHOP}),
        "lookup-number-miss": client.post(
            "/track/", {"reference": "NL0", "postcode": "XX1", "token": lookup_token}
        ),
        "lookup-needs-postcode": client.post(
            "/track/", {"reference": "NL0", "token": lookup_token}
        ),
        "lookup-wrong-postcode": client.post(
            "/track/",
            {"reference": shipment.reference, "postcode": "XX1", "token": lookup_token},
        ),
    }
    token = form_token(rendered["tracking"])
    client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": token})
    rendered["tracking-verified"] = client.get(page_url)
    assert "Alex Morgan" in rendered["tracking-verified"].content.decode()
    verified = client.post(
        f"{embed}verify/?parent={SHOP}",
        {"postcode": POSTCODE, "token": form_token(rendered["embed"])},
        HTTP_ORIGIN="http://testserver",
    )
    rendered["embed-verified"] = client.get(verified["Location"])
    assert "Alex Morgan" in rendered["embed-verified"].content.decode()
    assert rendered["tracking-delayed"].content.count(b"data-warning") == 1
    rendered.update(_notify_pages(client, shipment, page_url, embed))
    statuses = {name: response.status_code for name, response in rendered.items()}
    assert statuses == {
        "server-error": 500,
        "unavailable": 503,
        "lookup": 200,
        "lookup-unknown": 404,
        "tracking": 200,
        "tracking-history-restore": 200,
        "tracking-refused-form": 403,
        "embed": 200,
        "embed-plain": 200,
        "not-found": 404,
        "tracking-delayed": 200,
        "embed-delayed": 200,
        "lookup-number-miss": 404,
        "lookup-needs-postcode": 400,
        "lookup-wrong-postcode": 400,
        "tracking-verified": 200,
        "embed-verified": 200,
        "notify-error": 400,
        "notify-sent": 200,
        "notify-htmx-error": 200,
        "embed-notify-sent": 200,
        "confirm-ask": 200,
        "confirm-done": 200,
        "unsubscribe-ask": 200,
        "unsubscribe-done": 200,
        "link-not-found": 404,
    }
    return {name: response.content for name, response in rendered.items()}


def _notify_pages(client, shipment, page_url, embed) -> dict:
    """ "Email me updates" and its answers, and the pages the emails link to (section 7.4).
    The htmx answer is a fragment: it is checked inside a minimal document."""
    token = re.search(
        r'id="notify-form".*?name="token" value="([^"]+)"',
        client.get(page_url).content.decode(),
        re.S,
    )[1]
    rendered = {
        "notify-error": client.post(f"{page_url}notify/", {"email": "sam@", "token": token}),
        "notify-sent": client.post(
            f"{page_url}notify/?lang=de", {"email": "sam@example.com", "token": token}
        ),
        "notify-htmx-error": client.post(
            f"{page_url}notify/", {"email": "", "token": token}, HTTP_HX_REQUEST="true"
        ),
        "embed-notify-sent": client.post(
            f"{embed}notify/?parent={SHOP}",
            {"email": "kim@example.com", "token": token},
            HTTP_ORIGIN="http://testserver",
        ),
    }
    fragment = rendered["notify-htmx-error"]
    fragment.content = (
        b'<!doctype html><html lang="en"><head><title>Fragment</title></head><body>'
        + fragment.content
        + b"</body></html>"
    )
    subscriber = shipment.email_subscribers.get(email="sam@example.com")
    confirm = f"/notify/confirm/{notifications.token_for(subscriber, 'confirm')}/"
    unsubscribe = f"/notify/unsubscribe/{notifications.token_for(subscriber, 'unsubscribe')}/"
    rendered["confirm-ask"] = client.get(confirm)
    rendered["confirm-done"] = client.post(confirm)
    rendered["unsubscribe-ask"] = client.get(unsubscribe)
    rendered["unsubscribe-done"] = client.post(unsubscribe, {"List-Unsubscribe": "One-Click"})
    rendered["link-not-found"] = client.get("/notify/unsubscribe/nonsense/")
    return rendered


def test_every_page_is_valid_html(pages, tmp_path):
    errors = validate(pages, tmp_path)
    report = [f"{name} {error}" for name, found in errors.items() for error in found]
    assert report == [], "\n".join(report)


def test_the_checker_does_report_invalid_markup(tmp_path):
    """The test above would pass on a checker that never complains; this one would not."""
    broken = b'<!doctype html><html lang="en"><title>x</title><div hx-get="/x"><p>hi</div>'
    errors = validate({"broken": broken}, tmp_path)
    assert any("hx-get" in error for error in errors["broken"])
