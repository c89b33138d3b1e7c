"""What the tracking page shows, and what it costs."""

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings

from tests.factories import CarrierFactory, make_consignment, make_leg, rate_limit_queries
from tests.helpers import POSTCODE, form_token, record_event, sized_consignment, text_of
from tracking import services
from tracking.models import EventSource

pytestmark = pytest.mark.django_db


def html_of(response) -> str:
    return response.content.decode()


class TestContent:
    def test_it_shows_the_brand_status_stepper_and_summary(self, client, page_url):
        response = client.get(page_url)
        assert response.status_code == 200
        html, text = html_of(response), text_of(response)
        # No logo set: the brand bar names the brand (the logo's box is tested below).
        assert '<span class="brandbar__name">Harbour &amp; Pine</span>' in html
        assert "brandbar__logo" not in html
        assert html.count("<h1") == 1
        assert re.search(r"<h1[^>]*>Out for delivery</h1>", html)
        assert "1 of 2 packages delivered" in text
        assert "Tracking EC-PAG-000-001" in text

    def test_the_logo_has_a_fixed_box_so_nothing_moves_when_it_loads(
        self, client, page_brand, page_url
    ):
        page_brand.logo_url = "/static/demo/harbour-and-pine.svg"
        page_brand.save()
        logo = re.search(r'<img class="brandbar__logo"[^>]*>', html_of(client.get(page_url)))
        assert logo, "no logo"
        assert 'width="200"' in logo.group(0) and 'height="40"' in logo.group(0)
        # Any logo's shape fits the 5:1 box, at its left, without stretching.
        css = (settings.BASE_DIR / "static/tracking/site.css").read_text()
        rule = re.search(r"\.brandbar__logo \{([^}]*)\}", css).group(1)
        assert "object-fit: contain" in rule and "aspect-ratio: 5 / 1" in rule

    def test_the_stepper_is_an_ordered_list_with_the_current_step(self, client, page_url):
        html = html_of(client.get(page_url))
        stepper = html[
            html.index('<ol class="stepper">') : html.index("</ol>", html.index("stepper"))
        ]
        labels = re.findall(r'<span class="step__label">([^<]+)', stepper)
        assert labels == [
            "Label created",
            "Dispatched",
            "In transit",
            "Out for delivery",
            "Delivered",
        ]
        assert stepper.count('aria-current="step"') == 1
        current = re.search(r'<li class="([^"]+)" aria-current="step">', stepper)
        assert "step--current" in current.group(1)
        assert stepper.count("(completed)") == 3

    def test_the_progressbar_reads_as_words(self, client, page_url):
        html = html_of(client.get(page_url))
        assert 'role="progressbar"' in html
        assert 'aria-valuemin="1" aria-valuemax="5" aria-valuenow="4"' in html
        assert 'aria-valuetext="Out for delivery, step 4 of 5"' in html
        assert "progress__fill--3" in html
        assert "style=" not in html

    def test_the_expected_date_shows_until_delivered(self, client, page_url):
        assert "Wednesday 11 March" in text_of(client.get(page_url))

    def test_the_expected_date_hides_once_past(self, client, page_url, frozen):
        frozen.move_to(dt.datetime(2026, 3, 12, 9, 0, tzinfo=dt.UTC))
        assert "Expected delivery" not in text_of(client.get(page_url))

    def test_the_expected_date_hides_once_delivered(self, client, shipment, page_url):
        second = shipment.packages.order_by("sequence").last()
        leg = shipment.legs.order_by("sequence").last()
        record_event(leg, 7, "DELIVERED", "Delivered to a neighbour", package=second)
        text = text_of(client.get(page_url))
        assert "Expected delivery" not in text
        assert "2 of 2 packages delivered" in text

    def test_packages_have_a_switcher_and_legs_show_the_handover(self, client, page_url):
        html = html_of(client.get(page_url))
        packages = re.findall(r'<section class="card package" id="(package-EP-[^"]+)"', html)
        assert len(packages) == 2
        for anchor in packages:
            assert f'href="#{anchor}"' in html
        assert 'aria-label="Packages"' in html
        assert "Carriers, in order: Northline Freight , then CityHop Couriers" in text_of(
            client.get(page_url)
        )
        assert html.count('class="handover"') == 2

    def test_events_are_newest_first_with_local_time_zone_and_town(self, client, page_url):
        text = text_of(client.get(page_url))
        first = text.index("Delivered to recipient")
        assert (
            first
            < text.index("Out for delivery with driver")
            < text.index("Received at delivery station")
        )
        # Newest leg first, then the linehaul, whose events are older.
        assert text.index("Received at delivery station") < text.index("Arrived at regional depot")
        assert "9 Mar 2026, 14:05 GMT" in text
        assert "Birmingham" in text

    def test_times_are_in_the_brands_zone_and_shown_with_it(self, client, shipment, page_url):
        shipment.brand.time_zone = "Europe/Berlin"
        shipment.brand.save()
        assert "9 Mar 2026, 15:05 CET" in text_of(client.get(page_url))

    def test_carrier_links_open_a_new_tab_safely_and_say_so(self, client, page_url):
        html = html_of(client.get(page_url))
        link = re.search(r'<a class="leg__link" href="https://track.cityhop.example[^>]+>', html)
        assert link
        assert 'target="_blank"' in link.group(0)
        assert 'rel="noopener noreferrer"' in link.group(0)
        assert "Track with CityHop Couriers" in html
        assert "(opens in a new tab)" in html

    def test_status_icons_are_inline_svg_hidden_from_screen_readers(self, client, page_url):
        html = html_of(client.get(page_url))
        assert '<svg class="icon"' in html
        assert 'aria-hidden="true" focusable="false"' in html
        assert "<img" not in html.split("</header>", 1)[1]

    def test_each_icon_refers_to_a_shape_the_page_carries_once(self, client, page_url):
        unknown = client.get("/track/EC-ZZZ-ZZZ-ZZZ/")
        assert unknown.status_code == 404
        for response in (client.get(page_url), client.get("/"), unknown):
            html = html_of(response)
            used = set(re.findall(r'<use href="#(icon-[a-z]+)"/>', html))
            defined = re.findall(r'<symbol id="(icon-[a-z]+)"', html)
            assert used <= set(defined)
            assert len(defined) == len(set(defined))
        page = html_of(client.get(page_url))
        assert len(set(re.findall(r'<use href="#(icon-[a-z]+)"/>', page))) > 3

    def test_the_live_region_refers_to_shapes_of_the_page_around_it(self, client, page_url):
        live = client.get(page_url, headers={"HX-Request": "true"}).content.decode()
        assert "<symbol" not in live
        used = set(re.findall(r'<use href="#(icon-[a-z]+)"/>', live))
        assert used <= set(re.findall(r'<symbol id="(icon-[a-z]+)"', html_of(client.get(page_url))))

    def test_carrier_text_with_html_is_shown_as_text(self, client, shipment, page_url):
        leg = shipment.legs.first()
        record_event(
            leg, 0.5, "IN_TRANSIT", '<script>alert("x")</script><b>bold</b>', location="<i>x</i>"
        )
        html = html_of(client.get(page_url))
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in html
        assert "&lt;i&gt;x&lt;/i&gt;" in html

    def test_unknown_codes_show_their_description(self, client, page_brand, frozen):
        consignment = make_consignment(page_brand, reference="EC-PAG-000-002")
        leg = make_leg(consignment, carrier=CarrierFactory(code="SWIFT", name="Swift"))
        record_event(leg, 0, "COLLECTED_BY_CARRIER", "Collected")
        record_event(leg, 1, "SCANNED_AT_GATEWAY", "Scanned at gateway (carrier's own code)")
        record_event(leg, 2, "ODD_CODE")
        text = text_of(client.get("/track/EC-PAG-000-002/"))
        assert "Scanned at gateway (carrier's own code)" in text
        assert "Odd code" in text
        assert "Dispatched" in text

    def test_warnings_are_words_and_icons_not_colour_alone(self, client, page_brand, frozen):
        consignment = make_consignment(page_brand, reference="EC-PAG-000-003")
        leg = make_leg(consignment, carrier=CarrierFactory(code="SWIFT", name="Swift"))
        record_event(leg, 0, "IN_TRANSIT", "At sorting centre")
        record_event(leg, 1, "DAMAGED", "Parcel damaged in transit")
        response = client.get("/track/EC-PAG-000-003/")
        html, text = html_of(response), text_of(response)
        assert re.search(r"<h1[^>]*>Problem with delivery</h1>", html)
        assert "Parcel damaged in transit" in text
        assert "The carrier reported a problem" in text
        assert 'class="alert tone-danger"' in html
        assert "step--warning" in html
        assert "In transit (Problem with delivery)" in text
        assert 'aria-valuetext="In transit, step 3 of 5 (Problem with delivery)"' in html
        assert "Expected delivery" not in text

    def test_a_failed_attempt_and_a_cancellation_are_warnings(self, client, page_brand, frozen):
        attempted = make_consignment(page_brand, reference="EC-PAG-000-004")
        leg = make_leg(attempted, carrier=CarrierFactory(code="SWIFT", name="Swift"))
        record_event(leg, 0, "OUT_FOR_DELIVERY")
        record_event(leg, 1, "DELIVERY_FAILED_CARD_LEFT", "Nobody home, card left")
        text = text_of(client.get("/track/EC-PAG-000-004/"))
        assert "Delivery attempted" in text and "Nobody home, card left" in text
        cancelled = make_consignment(page_brand, reference="EC-PAG-000-005")
        leg = make_leg(cancelled, carrier=CarrierFactory(code="SWIFT", name="Swift"))
        record_event(leg, 0, "LABEL_PRINTED")
        record_event(leg, 1, "CANCELLED", "Cancelled by the sender")
        text = text_of(client.get("/track/EC-PAG-000-005/"))
        assert "This shipment was cancelled" in text

    def test_a_consignment_without_events_says_so(self, client, page_brand):
        make_consignment(page_brand, reference="EC-PAG-000-006")
        response = client.get("/track/EC-PAG-000-006/")
        assert response.status_code == 200
        assert "Awaiting the first update" in text_of(response)
        assert "No tracking updates yet" in text_of(response)

    def test_the_page_is_not_indexed_and_loads_no_inline_script_or_style(self, client, page_url):
        html = html_of(client.get(page_url))
        assert '<meta name="robots" content="noindex, nofollow">' in html
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert "<style" not in html
        assert "hx-on" not in html
        assert "style=" not in html

    def test_htmx_is_served_from_our_own_static_files(self, client, page_url):
        html = html_of(client.get(page_url))
        assert re.search(r'<script src="/static/django_htmx/htmx-2(\.min)?\.js" defer>', html)
        assert '<script src="/static/tracking/tracking.js" defer></script>' in html
        assert '"includeIndicatorStyles":false' in html.replace("&quot;", '"')
        assert '{"code":"304","swap":false}' in html.replace("&quot;", '"')

    def test_the_brand_colours_come_from_a_stylesheet(self, client, page_url):
        html = html_of(client.get(page_url))
        assert '<link rel="stylesheet" href="/theme/v1/1f4e5f-ac502b.css">' in html


class TestQueryCounts:
    """The page, its live region and a 304 cost the same whatever the consignment's size.

    A full page load also counts against the lookup rate limit: one upsert in the database,
    none when Redis keeps the counters. Polls of the live region are not counted."""

    SIZES = [(1, 1, 3), (3, 3, 60)]

    @pytest.mark.parametrize("size", SIZES)
    def test_the_page_costs_two_queries_and_the_lookup_count(
        self, client, page_brand, size, django_assert_num_queries
    ):
        packages, legs, events = size
        consignment = sized_consignment(
            page_brand, packages=packages, legs=legs, events=events, reference="EC-QRY-000-001"
        )
        with django_assert_num_queries(2 + rate_limit_queries()):
            response = client.get(f"/track/{consignment.reference}/")
        assert response.status_code == 200
        assert response.content.decode().count('<li class="event ') == packages * events

    @pytest.mark.parametrize("size", SIZES)
    def test_the_live_region_costs_two_queries_and_a_304_one(
        self, client, page_brand, size, django_assert_num_queries
    ):
        packages, legs, events = size
        consignment = sized_consignment(
            page_brand, packages=packages, legs=legs, events=events, reference="EC-QRY-000-002"
        )
        url = f"/track/{consignment.reference}/"
        with django_assert_num_queries(2):
            response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200
        with django_assert_num_queries(1):
            again = client.get(
                url, headers={"HX-Request": "true", "If-None-Match": response["ETag"]}
            )
        assert again.status_code == 304

    def test_both_sizes_cost_the_same(self, client, page_brand, django_assert_num_queries):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        counts = []
        for n, (packages, legs, events) in enumerate(self.SIZES):
            consignment = sized_consignment(
                page_brand,
                packages=packages,
                legs=legs,
                events=events,
                reference=f"EC-QRY-00{n}-003",
            )
            for headers in ({}, {"HX-Request": "true"}):
                with CaptureQueriesContext(connection) as queries:
                    client.get(f"/track/{consignment.reference}/", headers=headers)
                counts.append(len(queries))
        page, live = 2 + rate_limit_queries(), 2
        assert counts == [page, live, page, live]

    def test_a_verified_viewer_adds_only_the_session(self, client, shipment, page_url):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        token = form_token(client.get(page_url))
        client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": token})
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page_url)
        assert "Alex Morgan" in text_of(response)
        assert len(queries) == 3 + rate_limit_queries()


class TestDemoData:
    def test_the_showcase_consignment_renders_in_every_language(self, client, db):
        from django.core.management import call_command

        with time_machine.travel(dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC), tick=False):
            call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
            for language in ("en", "de", "fr", "es"):
                response = client.get(f"/track/EC-DEM-000-001/?lang={language}")
                assert response.status_code == 200
                assert f'<html lang="{language}">' in response.content.decode()
            for reference in (
                "EC-DEM-000-003",
                "EC-DEM-000-012",
                "EC-DEM-000-013",
                "EC-KES-000-001",
            ):
                assert client.get(f"/track/{reference}/").status_code == 200

    def test_a_record_event_moves_the_page_on(self, client, shipment, page_url):
        second = shipment.packages.order_by("sequence").last()
        leg = shipment.legs.order_by("sequence").last()
        services.record_event(
            leg=leg,
            source=EventSource.ADMIN,
            code="DELIVERED",
            description="Left in the porch",
            occurred_at=dt.datetime(2026, 3, 9, 16, 0, tzinfo=dt.UTC),
            package=second,
        )
        text = text_of(client.get(page_url))
        assert re.search(r"Delivered\s*2 of 2 packages delivered", text)
