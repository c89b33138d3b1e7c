"""The page's one current warning (design section 7.1): delays and problems at the stage reached,
with the customer's words and the carrier's, until a later progress event clears them; and the
"latest update" being the event that set the status, not simply the newest one."""

import datetime as dt
import re

import pytest

from tests.factories import CarrierFactory, make_consignment, make_leg
from tests.helpers import NOW, record_event, text_of

pytestmark = pytest.mark.django_db

SHOP = "https://shop.harbour.example"


def html_of(response) -> str:
    return response.content.decode()


def warnings_in(html: str) -> list[str]:
    """The elements marked data-warning, each as its markup up to the end of its text."""
    return re.findall(
        r'<div class="alert [^"]*" data-warning="[^"]*">.*?</div>\s*</div>', html, re.S
    )


def text(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)).strip()


def current_step(html: str) -> str:
    return re.search(r'<li class="([^"]+)" aria-current="step">', html).group(1)


@pytest.fixture
def delayed(page_brand, frozen):
    """In transit, then the carrier's DELAYED scan."""
    consignment = make_consignment(
        page_brand,
        reference="EC-WRN-000-001",
        destination_town="Bristol",
    )
    leg = make_leg(
        consignment,
        carrier=CarrierFactory(code="NORTHLINE", name="Northline Freight"),
        tracking_number="NL-DELAY-1",
    )
    record_event(leg, 0, "COLLECTED_BY_CARRIER", "Collected from the warehouse")
    record_event(leg, 2, "IN_TRANSIT", "Arrived at regional depot", location="Birmingham")
    record_event(leg, 3, "DELAYED", "Delayed: vehicle breakdown", location="Birmingham")
    return leg


URL = "/track/EC-WRN-000-001/"


class TestADelay:
    def test_it_is_one_warning_element_with_the_customer_words_and_the_carriers(
        self, client, delayed
    ):
        html = html_of(client.get(URL))
        assert html.count("data-warning") == 1
        [warning] = warnings_in(html)
        assert 'data-warning="delay"' in warning
        assert 'class="alert tone-warning"' in warning
        words = text(warning)
        assert words.startswith("Delayed Delayed: vehicle breakdown")
        assert "may arrive later than expected" in words

    def test_the_stage_reached_shows_the_warning_not_a_green_truck(self, client, delayed):
        html = html_of(client.get(URL))
        assert re.search(r"<h1[^>]*>In transit</h1>", html)  # the status stays In transit
        headline = re.search(
            r'<div class="headline ([^"]+)">\s*<span[^>]*>(.*?)</span>', html, re.S
        )
        assert headline.group(1) == "tone-warning"
        assert "#icon-clock" in headline.group(2) and "#icon-truck" not in headline.group(2)
        step = current_step(html)
        assert "step--warning" in step and "tone-warning" in step
        assert "In transit (Delayed)" in text_of(client.get(URL))
        assert 'aria-valuetext="In transit, step 3 of 5 (Delayed)"' in html

    def test_the_status_line_says_so_to_screen_readers(self, client, delayed):
        html = html_of(client.get(URL))
        status = re.search(r'<p id="live-status"[^>]*>(.*?)</p>', html, re.S).group(1)
        # The latest update is the progress event that set the status; the delay is a warning.
        assert text(status) == "Latest update: On its way, 9 Mar 2026, 10:00 GMT Warning: Delayed"
        assert '<span class="visually-hidden"> Warning: Delayed</span>' in status

    def test_the_delay_event_is_in_the_warning_tone_in_the_timeline(self, client, delayed):
        html = html_of(client.get(URL))
        event = re.search(r'<li class="event ([^"]*)">(?:(?!</li>).)*vehicle breakdown', html, re.S)
        assert "tone-warning" in event.group(1)
        assert "#icon-clock" in event.group(0)

    def test_the_expected_day_is_not_promised_while_delayed(self, client, delayed):
        consignment = delayed.consignment
        consignment.expected_delivery_date = NOW.date() + dt.timedelta(days=1)
        consignment.save()
        assert "Expected delivery" not in text_of(client.get(URL))
        record_event(delayed, 5, "IN_TRANSIT", "Back on the road")
        assert "Expected delivery" in text_of(client.get(URL))

    def test_a_later_progress_event_clears_it(self, client, delayed):
        record_event(delayed, 5, "IN_TRANSIT", "Back on the road", location="Bristol")
        html = html_of(client.get(URL))
        assert "data-warning" not in html
        assert "step--warning" not in html
        assert "Warning:" not in html
        assert "#icon-truck" in re.search(r'<div class="headline[^>]*>.*?</h1>', html, re.S).group(
            0
        )
        # The delay stays in its place in the timeline.
        assert "Delayed: vehicle breakdown" in text_of(client.get(URL))

    def test_information_neither_clears_nor_raises_it(self, client, delayed):
        record_event(delayed, 4, "FOR_INFORMATION", "Your parcel is with our partner")
        assert html_of(client.get(URL)).count('data-warning="delay"') == 1

    def test_an_earlier_stage_scan_after_it_does_not_clear_it(self, client, delayed):
        record_event(delayed, 4, "COLLECTED_BY_CARRIER", "Collected (late scan)")
        assert html_of(client.get(URL)).count('data-warning="delay"') == 1

    def test_it_is_in_german_with_the_carriers_words_as_sent(self, client, delayed):
        response = client.get(URL, {"lang": "de"})
        [warning] = warnings_in(html_of(response))
        words = text(warning)
        assert words.startswith("Verzögert Delayed: vehicle breakdown")
        assert "später als erwartet" in words
        page = text_of(response)
        assert "Unterwegs (Verzögert)" in page
        assert "Unterwegs, verzögert" in page  # the package's badge
        assert "Letzte Meldung: Unterwegs, 9. März 2026, 10:00 GMT" in page

    def test_the_embed_shows_the_same_warning(self, client, page_brand, delayed):
        page_brand.embed_origins = SHOP
        page_brand.save()
        response = client.get("/embed/EC-WRN-000-001/", {"parent": SHOP})
        assert response.status_code == 200
        [warning] = warnings_in(html_of(response))
        assert 'data-warning="delay"' in warning
        assert "Delayed: vehicle breakdown" in warning
        assert "step--warning" in current_step(html_of(response))
        german = client.get("/embed/EC-WRN-000-001/", {"parent": SHOP, "lang": "de"})
        assert text(warnings_in(html_of(german))[0]).startswith("Verzögert")

    def test_the_live_region_carries_it(self, client, delayed):
        live = html_of(client.get(URL, headers={"HX-Request": "true"}))
        assert live.count('data-warning="delay"') == 1
        record_event(delayed, 5, "OUT_FOR_DELIVERY", "With the driver")
        assert "data-warning" not in html_of(client.get(URL, headers={"HX-Request": "true"}))


class TestProblems:
    @pytest.mark.parametrize(
        ("code", "words", "tone"),
        [
            ("EXCEPTION", "Problem with the delivery", "danger"),
            ("DAMAGED", "Damaged", "danger"),
            ("DELIVERY_FAILED", "Delivery attempt failed", "warning"),
            ("CANCELLED", "Cancelled", "muted"),
        ],
    )
    def test_a_problem_is_a_warning_with_the_carriers_words(
        self, client, page_brand, frozen, code, words, tone
    ):
        consignment = make_consignment(page_brand, reference="EC-WRN-000-002")
        leg = make_leg(consignment, carrier=CarrierFactory(code="SWIFT", name="Swift"))
        record_event(leg, 0, "OUT_FOR_DELIVERY", "With the driver")
        record_event(leg, 1, code, "Carrier says: see note 42")
        html = html_of(client.get("/track/EC-WRN-000-002/"))
        [warning] = warnings_in(html)
        assert 'data-warning="problem"' in warning
        assert f'class="alert tone-{tone}"' in warning
        assert text(warning).startswith(f"{words} Carrier says: see note 42")
        assert "step--warning" in current_step(html)

    def test_a_problem_outranks_a_delay_on_another_package(self, client, page_brand, frozen):
        consignment = make_consignment(page_brand, packages=2, reference="EC-WRN-000-003")
        first, second = list(consignment.packages.order_by("sequence"))
        leg = make_leg(consignment, carrier=CarrierFactory(code="SWIFT", name="Swift"))
        record_event(leg, 0, "IN_TRANSIT", "At the hub")
        record_event(leg, 1, "DELAYED", "Held up at the hub", package=first)
        record_event(leg, 2, "DAMAGED", "Box crushed", package=second)
        html = html_of(client.get("/track/EC-WRN-000-003/"))
        [warning] = warnings_in(html)
        assert 'data-warning="problem"' in warning
        words = text(warning)
        # Which package it is about, when it is not about all of them.
        assert words.startswith("Parcel 2 Damaged Box crushed")
        # Each package's badge says its own standing.
        assert "In transit, delayed" in text_of(client.get("/track/EC-WRN-000-003/"))

    def test_a_delay_on_one_package_of_two_names_it(self, client, page_brand, frozen):
        consignment = make_consignment(page_brand, packages=2, reference="EC-WRN-000-004")
        first, _second = list(consignment.packages.order_by("sequence"))
        leg = make_leg(consignment, carrier=CarrierFactory(code="SWIFT", name="Swift"))
        record_event(leg, 0, "IN_TRANSIT", "At the hub")
        record_event(leg, 1, "WEATHER_DELAY", "Snow on the motorway", package=first)
        [warning] = warnings_in(html_of(client.get("/track/EC-WRN-000-004/")))
        assert text(warning).startswith("Parcel 1 Delayed by the weather Snow on the motorway")

    def test_no_warning_no_element(self, client, page_url):
        assert "data-warning" not in html_of(client.get(page_url))


class TestTheLatestUpdate:
    def test_a_backfilled_label_printed_later_is_not_the_latest_update(
        self, client, page_brand, frozen
    ):
        """The issue's case: a record created at 21:37 with status 1, then the carrier's scans
        of 08:00, 12:00 and 18:00 that day."""
        consignment = make_consignment(page_brand, reference="EC-WRN-000-005")
        leg = make_leg(consignment, carrier=CarrierFactory(code="SWIFT", name="Swift"))
        record_event(leg, 13 + 37 / 60, "LABEL_PRINTED", "Label printed by the shop")
        record_event(leg, 0, "COLLECTED_BY_CARRIER", "Collected", location="Leeds")
        record_event(leg, 4, "IN_TRANSIT", "At the Leeds hub", location="Leeds")
        record_event(leg, 10, "IN_TRANSIT", "Arrived at regional depot", location="Bristol")
        response = client.get("/track/EC-WRN-000-005/")
        html, page = html_of(response), text_of(response)
        assert re.search(r"<h1[^>]*>In transit</h1>", html)
        assert "Latest update: On its way, 9 Mar 2026, 18:00 GMT" in page
        latest = re.search(r'<li class="event [^"]*event--latest">(?:(?!</li>).)*', html, re.S)
        assert "Arrived at regional depot" in latest.group(0)
        assert html.count("event--latest") == 1
        # The label stays in its place in the timeline: by when it happened, newest first.
        assert page.index("Label printed by the shop") < page.index("Arrived at regional depot")
        assert page.index("Arrived at regional depot") < page.index("At the Leeds hub")

    def test_a_hand_over_booked_later_does_not_pull_the_parcel_back(
        self, client, page_brand, frozen
    ):
        consignment = make_consignment(page_brand, reference="EC-WRN-000-006")
        first = make_leg(consignment, carrier=CarrierFactory(code="NORTH", name="Northline"))
        record_event(first, 0, "COLLECTED_BY_CARRIER", "Collected")
        record_event(first, 2, "IN_TRANSIT", "At the hub")
        record_event(first, 4, "OUT_FOR_DELIVERY", "Out with the driver")
        second = make_leg(consignment, carrier=CarrierFactory(code="CITY", name="CityHop"))
        record_event(second, 5, "LABEL_PRINTED", "Label created for the last mile")
        record_event(second, 6, "IN_TRANSIT", "Received at delivery station")
        for language, headline, latest in (
            ("en", "Out for delivery", "Latest update: Out for delivery, 9 Mar 2026, 12:00 GMT"),
            ("de", "In Zustellung", "Letzte Meldung: In Zustellung, 9. März 2026, 12:00 GMT"),
        ):
            response = client.get("/track/EC-WRN-000-006/", {"lang": language})
            assert re.search(rf"<h1[^>]*>{headline}</h1>", html_of(response)), language
            assert latest in text_of(response), language
        html = html_of(client.get("/track/EC-WRN-000-006/"))
        latest = re.search(r'<li class="event [^"]*event--latest">(?:(?!</li>).)*', html, re.S)
        assert "Out with the driver" in latest.group(0)
        assert "Received at delivery station" in html and "Label created for the last mile" in html

    def test_a_late_scan_never_undoes_delivered(self, client, shipment, page_url):
        linehaul = shipment.legs.order_by("sequence").first()
        record_event(linehaul, 7, "IN_TRANSIT", "Stale scan from the linehaul")
        second = shipment.packages.order_by("sequence").last()
        lastmile = shipment.legs.order_by("sequence").last()
        record_event(lastmile, 6.5, "DELIVERED", "Left with a neighbour", package=second)
        response = client.get(page_url)
        assert re.search(r"<h1[^>]*>Delivered</h1>", html_of(response))
        assert "Stale scan from the linehaul" in text_of(response)
        assert "data-warning" not in html_of(response)
