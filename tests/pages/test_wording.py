"""The customer's words for each normalised code (tracking.wording), as the events' titles with
the carrier's own words beneath, and in the headline's "latest update"."""

import ast
import re
from pathlib import Path

import pytest
from django.utils import translation

from tests.factories import CarrierFactory, make_consignment, make_leg
from tests.helpers import record_event, text_of
from tracking import status as rules
from tracking import wording

LANGUAGES = ["de", "fr", "es"]


def events_of(response) -> list[tuple[str, str]]:
    """Each event's (title, carrier's words), newest first, as the page shows them."""
    html = response.content.decode()
    found = []
    for body in re.findall(r'<div class="event__body">(.*?)<p class="event__meta">', html, re.S):
        title = re.search(r'<p class="event__text">(.*?)</p>', body, re.S).group(1)
        title = re.sub(r'<span class="visually-hidden">.*?</span>', "", title)
        detail = re.search(r'<p class="event__detail">(.*?)</p>', body, re.S)
        found.append((title.strip(), detail.group(1).strip() if detail else ""))
    return found


class TestTheTable:
    def test_every_normalised_code_has_customer_words(self):
        assert set(wording.CODE_WORDS) == set(rules.CODE_STATUS)
        assert set(wording.TODAY_WORDS) <= set(wording.CODE_WORDS)

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_every_code_is_worded_in_each_page_language(self, language):
        for code in [*rules.CODE_STATUS, *(f"{code}@today" for code in wording.TODAY_WORDS)]:
            code, _, today = code.partition("@")
            with translation.override("en"):
                english = wording.customer_text(code, today=bool(today))
            with translation.override(language):
                words = wording.customer_text(code, today=bool(today))
            assert words and words != english, (language, code)
            assert len(words) <= 60, (language, code, words)  # a title, not a sentence

    def test_an_unknown_code_has_none(self):
        assert wording.customer_text("SCANNED_AT_GATEWAY") == ""
        assert wording.customer_text("") == ""

    def test_the_module_is_pure(self):
        """Only lazy translations and tracking.status: the email notifications reuse it."""
        tree = ast.parse(Path(wording.__file__).read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
        assert imported == {
            "__future__.annotations",
            "django.utils.functional.Promise",
            "django.utils.translation.gettext_lazy",
            "django.utils.translation.pgettext_lazy",
            "tracking.status",
        }

    def test_warning_advice_per_kind(self):
        with translation.override("en"):
            assert "delay" in wording.advice(rules.Warning.DELAY, None, "Acme")
            cancelled = wording.advice(rules.Warning.PROBLEM, rules.Status.CANCELLED, "Acme")
            assert "contact Acme" in cancelled
            assert "Acme has been told" in wording.advice(
                rules.Warning.PROBLEM, rules.Status.EXCEPTION, "Acme"
            )
            assert wording.advice(rules.Warning.NONE, None, "Acme") == ""


@pytest.mark.django_db
class TestOnThePage:
    def test_titles_are_the_customer_words_with_the_carriers_beneath(self, client, page_url):
        assert events_of(client.get(page_url))[:3] == [
            ("Delivered", "Delivered to recipient"),
            ("Out for delivery", "Out for delivery with driver"),
            ("On its way", "Received at delivery station"),
        ]

    def test_in_german(self, client, page_url):
        response = client.get(page_url, {"lang": "de"})
        assert events_of(response)[:3] == [
            ("Zugestellt", "Delivered to recipient"),
            ("In Zustellung", "Out for delivery with driver"),
            ("Unterwegs", "Received at delivery station"),
        ]
        assert "Letzte Meldung: Zugestellt, 9. März 2026, 14:05 GMT" in text_of(response)

    @pytest.mark.parametrize(
        ("language", "latest"),
        [
            ("en", "Latest update: Delivered, 9 Mar 2026, 14:05 GMT"),
            ("fr", "Livré, 9 mars 2026, 14:05 GMT"),
            ("es", "Entregado, 9 mar 2026, 14:05 GMT"),
        ],
    )
    def test_the_latest_update_uses_them(self, client, page_url, language, latest):
        assert latest in text_of(client.get(page_url, {"lang": language}))

    def test_an_unknown_code_shows_the_carriers_words_alone(self, client, page_brand, frozen):
        consignment = make_consignment(page_brand, reference="EC-WRD-000-001")
        leg = make_leg(consignment, carrier=CarrierFactory(code="SWIFT", name="Swift"))
        record_event(leg, 0, "COLLECTED_BY_CARRIER", "Collected")
        record_event(leg, 1, "SCANNED_AT_GATEWAY", "Scanned at gateway (carrier's own code)")
        record_event(leg, 2, "ODD_CODE")
        for language in ("en", "de"):
            shown = events_of(client.get("/track/EC-WRD-000-001/", {"lang": language}))
            assert shown[:2] == [
                ("Odd code", ""),
                ("Scanned at gateway (carrier&#x27;s own code)", ""),
            ], language
        assert events_of(client.get("/track/EC-WRD-000-001/", {"lang": "de"}))[2] == (
            "Vom Versanddienstleister abgeholt",
            "Collected",
        )

    def test_carrier_words_that_say_the_same_are_not_repeated(self, client, page_brand, frozen):
        consignment = make_consignment(page_brand, reference="EC-WRD-000-002")
        leg = make_leg(consignment, carrier=CarrierFactory(code="SWIFT", name="Swift"))
        record_event(leg, 0, "IN_TRANSIT", "")
        record_event(leg, 1, "DELIVERED", "DELIVERED.")
        assert events_of(client.get("/track/EC-WRD-000-002/")) == [
            ("Delivered", ""),
            ("On its way", ""),
        ]

    def test_out_for_delivery_says_today_on_the_day_only(self, client, page_brand, frozen):
        consignment = make_consignment(page_brand, reference="EC-WRD-000-003")
        leg = make_leg(consignment, carrier=CarrierFactory(code="SWIFT", name="Swift"))
        record_event(leg, 4, "OUT_FOR_DELIVERY", "On the van")  # Monday: yesterday
        record_event(leg, 25, "OUT_FOR_DELIVERY", "On the van again")  # Tuesday 09:00: today
        response = client.get("/track/EC-WRD-000-003/", {"lang": "de"})
        assert events_of(response) == [
            ("Wird heute zugestellt", "On the van again"),
            ("In Zustellung", "On the van"),
        ]
        assert "Letzte Meldung: Wird heute zugestellt, 10. März 2026, 09:00 GMT" in text_of(
            response
        )
        assert events_of(client.get("/track/EC-WRD-000-003/"))[0][0] == "Out for delivery today"
