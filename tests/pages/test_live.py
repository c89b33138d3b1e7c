"""The live region: htmx's poll, conditional requests, stopping once final, cache headers."""

import datetime as dt
import re

import pytest

from tests.helpers import POSTCODE, form_token, record_event, text_of

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def etag_in_page(response) -> str:
    from html import unescape

    match = re.search(r'data-etag="([^"]+)"', response.content.decode())
    assert match
    return unescape(match.group(1))


class TestThePoll:
    def test_the_region_polls_its_own_url_every_30_seconds(self, client, page_url):
        html = client.get(page_url).content.decode()
        region = re.search(r'<div id="live"[^>]*>', html).group(0)
        assert f'data-hx-get="{page_url}"' in region
        assert 'data-hx-trigger="every 30s, tracking-refresh"' in region
        assert 'data-hx-select="#live-body"' in region
        assert "[" not in region  # no eval'd trigger filters under our CSP

    def test_htmx_attributes_carry_the_data_prefix_that_html_allows(self, client, page_url):
        for response in (client.get(page_url), client.get(page_url, headers=HTMX)):
            html = response.content.decode()
            assert "data-hx-get=" in html
            assert not re.search(r"\shx-[a-z-]+=", html)

    def test_the_poll_url_keeps_a_language_from_the_url(self, client, page_url):
        html = client.get(f"{page_url}?lang=de").content.decode()
        assert f'data-hx-get="{page_url}?lang=de"' in html

    def test_new_events_are_announced_politely_on_a_status_line(self, client, page_url):
        html = client.get(page_url).content.decode()
        assert html.count("aria-live") == 1
        status = re.search(r'<p id="live-status"[^>]*>([^<]*)</p>', html)
        assert 'aria-live="polite"' in status.group(0)
        # The customer's words for the code (tracking.wording), not the carrier's description.
        assert "Latest update: Delivered, 9 Mar 2026, 14:05 GMT" in status.group(1)

    def test_the_poll_gets_only_the_live_partial(self, client, page_url):
        response = client.get(page_url, headers=HTMX)
        assert response.status_code == 200
        html = response.content.decode()
        assert html.lstrip().startswith('<div id="live"')
        assert "<html" not in html
        assert 'id="live-body"' in html
        assert "Delivered to recipient" in html

    def test_opening_the_url_directly_gives_the_whole_page(self, client, page_url):
        assert client.get(page_url).content.decode().startswith("<!doctype html>")

    def test_unchanged_answers_304_with_no_body(self, client, page_url):
        first = client.get(page_url, headers=HTMX)
        assert etag_in_page(client.get(page_url)) == first["ETag"]
        again = client.get(page_url, headers={**HTMX, "If-None-Match": first["ETag"]})
        assert again.status_code == 304
        assert again.content == b""
        assert again["ETag"] == first["ETag"]

    def test_a_new_event_changes_the_etag(self, client, shipment, page_url):
        first = client.get(page_url, headers=HTMX)
        record_event(shipment.legs.first(), 0.25, "IN_TRANSIT", "Sorted at hub", location="Leeds")
        again = client.get(page_url, headers={**HTMX, "If-None-Match": first["ETag"]})
        assert again.status_code == 200
        assert again["ETag"] != first["ETag"]
        assert "Sorted at hub" in again.content.decode()

    def test_etags_differ_by_language_tier_and_page_or_partial(self, client, page_url):
        tags = {
            client.get(page_url)["ETag"],
            client.get(page_url, headers=HTMX)["ETag"],
            client.get(f"{page_url}?lang=de")["ETag"],
            client.get(page_url, headers={"Accept-Language": "fr"})["ETag"],
        }
        token = form_token(client.get(page_url))
        client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": token})
        tags.add(client.get(page_url)["ETag"])
        assert len(tags) == 5

    def test_the_page_answers_conditional_requests_too(self, client, page_url):
        first = client.get(page_url)
        assert first["ETag"].startswith('W/"')
        assert first["Last-Modified"]
        again = client.get(page_url, headers={"If-None-Match": first["ETag"]})
        assert again.status_code == 304
        assert again["Cache-Control"] == "no-cache"

    def test_delivered_stops_the_polling_with_286(self, client, shipment, page_url):
        second = shipment.packages.order_by("sequence").last()
        record_event(shipment.legs.order_by("sequence").last(), 7, "DELIVERED", package=second)
        response = client.get(page_url, headers=HTMX)
        assert response.status_code == 286
        assert "2 of 2 packages delivered" in text_of(response)
        assert 'data-final="true"' in response.content.decode()
        page = client.get(page_url).content.decode()
        assert "data-hx-get" not in page
        assert "data-hx-trigger" not in page

    def test_cancelled_stops_the_polling_too(self, client, shipment, page_url):
        for leg in shipment.legs.all():
            record_event(leg, 8, "CANCELLED", "Cancelled by the sender")
        assert client.get(page_url, headers=HTMX).status_code == 286

    def test_a_poll_on_a_final_consignment_stops_even_when_unchanged(
        self, client, shipment, page_url
    ):
        second = shipment.packages.order_by("sequence").last()
        record_event(shipment.legs.order_by("sequence").last(), 7, "DELIVERED", package=second)
        etag = client.get(page_url, headers=HTMX)["ETag"]
        assert client.get(page_url, headers={**HTMX, "If-None-Match": etag}).status_code == 286

    def test_a_list_of_etags_naming_the_current_one_is_still_fresh(self, client, page_url):
        etag = client.get(page_url, headers=HTMX)["ETag"]
        listed = client.get(page_url, headers={**HTMX, "If-None-Match": f'W/"old", {etag}'})
        assert listed.status_code == 304
        assert listed["ETag"] == etag
        assert client.get(page_url, headers={**HTMX, "If-None-Match": "*"}).status_code == 304

    def test_other_preconditions_are_evaluated_before_if_none_match(self, client, page_url):
        etag = client.get(page_url, headers=HTMX)["ETag"]
        refused = client.get(page_url, headers={**HTMX, "If-None-Match": etag, "If-Match": '"x"'})
        assert refused.status_code == 412
        stale = "Sat, 01 Jan 2000 00:00:00 GMT"
        headers = {**HTMX, "If-None-Match": etag, "If-Unmodified-Since": stale}
        assert client.get(page_url, headers=headers).status_code == 412

    def test_if_modified_since_alone_is_honoured(self, client, page_url):
        last_modified = client.get(page_url, headers=HTMX)["Last-Modified"]
        again = client.get(page_url, headers={**HTMX, "If-Modified-Since": last_modified})
        assert again.status_code == 304
        assert again.content == b""

    def test_the_etag_moves_with_the_form_token_window(self, client, page_url, frozen):
        first = client.get(page_url)["ETag"]
        frozen.shift(dt.timedelta(hours=1))
        assert client.get(page_url, headers={"If-None-Match": first}).status_code == 200


class TestHeaders:
    def test_it_varies_on_htmx_language_and_cookie(self, client, page_url):
        for headers in ({}, HTMX):
            vary = {v.strip() for v in client.get(page_url, headers=headers)["Vary"].split(",")}
            assert {"HX-Request", "Accept-Language", "Cookie"} <= vary

    def test_a_304_varies_the_same_way(self, client, page_url):
        etag = client.get(page_url, headers=HTMX)["ETag"]
        response = client.get(page_url, headers={**HTMX, "If-None-Match": etag})
        assert "HX-Request" in response["Vary"]

    def test_the_anonymous_tier_revalidates_and_the_verified_tier_is_never_stored(
        self, client, page_url
    ):
        assert client.get(page_url)["Cache-Control"] == "no-cache"
        assert client.get(page_url, headers=HTMX)["Cache-Control"] == "no-cache"
        token = form_token(client.get(page_url))
        client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": token})
        assert client.get(page_url)["Cache-Control"] == "private, no-store"
        assert client.get(page_url, headers=HTMX)["Cache-Control"] == "private, no-store"

    def test_the_poll_interval_can_be_shortened_for_tests(self, client, page_url, settings):
        settings.TRACKING_POLL_SECONDS = 1
        html = client.get(page_url).content.decode()
        assert 'data-hx-trigger="every 1s, tracking-refresh"' in html
