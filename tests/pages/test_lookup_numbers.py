"""Find my parcel by what I have (design section 7.1): the EC reference or a package's EP
reference alone, or a carrier's tracking number or the shop's order number with the delivery
postcode, which finds the page but never verifies it."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    BrandFactory,
    CarrierFactory,
    make_consignment,
    make_leg,
    rate_limit_queries,
)
from tests.helpers import NOW, POSTCODE, form_token, text_of

pytestmark = pytest.mark.django_db

NOT_FOUND = "We can't find a parcel with that number and postcode."


def post(client, reference, postcode="", **extra):
    token = form_token(client.get("/"))
    return client.post(
        "/track/", {"reference": reference, "postcode": postcode, "token": token}, **extra
    )


class TestByReference:
    def test_a_package_reference_alone_finds_its_consignment(self, client, shipment):
        package = shipment.packages.order_by("sequence").last()
        for typed in (
            package.reference,
            package.reference.lower(),
            package.reference.replace("-", " "),
        ):
            response = post(client, typed)
            assert response.status_code == 303, typed
            assert response["Location"] == "/track/EC-PAG-000-001/"
        response = client.get("/track/", {"reference": package.reference.lower(), "lang": "de"})
        assert response["Location"] == "/track/EC-PAG-000-001/?lang=de"

    def test_a_package_reference_with_the_postcode_verifies_like_the_ec_reference(
        self, client, shipment
    ):
        package = shipment.packages.first()
        response = post(client, package.reference, "bs1 4dj")
        assert response.status_code == 303
        assert "Alex Morgan" in text_of(client.get(response["Location"]))

    def test_an_unknown_package_reference_is_unknown(self, client, shipment):
        response = post(client, "EP-ZZZ-ZZZ-ZZZ")
        assert response.status_code == 404
        assert "We can't find a parcel with that reference" in text_of(response)

    def test_a_package_reference_is_no_page_address(self, client, shipment):
        package = shipment.packages.first()
        assert client.get(f"/track/{package.reference}/").status_code == 404


class TestByNumberAndPostcode:
    @pytest.mark.parametrize(
        ("number", "postcode"),
        [
            ("NL4800123", POSTCODE),  # the linehaul's tracking number
            ("nl4800123", "bs14dj"),  # any case, spaces ignored
            (" ch-77821 ", " BS1  4DJ "),  # the last mile's
            ("ORDER-4711", POSTCODE),  # the shop's order number
            ("order-4711", "bs1 4dj"),
        ],
    )
    def test_it_finds_the_page_but_never_verifies(self, client, shipment, number, postcode):
        response = post(client, number, postcode)
        assert response.status_code == 303, response.content
        assert response["Location"] == "/track/EC-PAG-000-001/"
        assert not response.cookies  # no session: nothing was verified
        page = client.get(response["Location"])
        assert "Alex Morgan" not in text_of(page)
        assert 'name="postcode"' in page.content.decode()  # the page still asks for it

    def test_it_keeps_a_language_chosen_in_the_url(self, client, shipment):
        token = form_token(client.get("/?lang=de"))
        response = client.post(
            "/track/?lang=de", {"reference": "NL4800123", "postcode": POSTCODE, "token": token}
        )
        assert response["Location"] == "/track/EC-PAG-000-001/?lang=de"

    def test_a_wrong_postcode_answers_exactly_like_an_unknown_number(self, client, shipment):
        wrong = post(client, "NL4800123", "XX1 1XX")
        unknown = post(client, "NL0000000", "XX1 1XX")
        assert wrong.status_code == unknown.status_code == 404
        assert NOT_FOUND in text_of(wrong)
        assert wrong.content.replace(b"NL4800123", b"NL0000000") == unknown.content
        assert wrong.headers == unknown.headers
        assert not wrong.cookies and not unknown.cookies
        # An order number is the same.
        order = post(client, "ORDER-4711", "XX1 1XX")
        assert order.content.replace(b"ORDER-4711", b"NL0000000") == unknown.content

    def test_the_miss_marks_both_fields_and_keeps_what_was_typed(self, client, shipment):
        html = post(client, "NL4800123", "XX1 1XX").content.decode()
        assert 'value="NL4800123"' in html and 'value="XX1 1XX"' in html
        assert (
            'aria-describedby="reference-hint reference-error" aria-invalid="true" autofocus'
            in html
        )
        assert 'aria-describedby="lookup-postcode-hint reference-error" aria-invalid="true"' in html
        assert html.count("autofocus") == 1

    def test_a_number_without_a_postcode_asks_for_it(self, client, shipment):
        for typed in ("NL4800123", "NL0000000"):
            response = post(client, typed)
            assert response.status_code == 400
            assert "also enter the delivery postcode" in text_of(response)
            html = response.content.decode()
            assert 'aria-describedby="lookup-postcode-hint lookup-postcode-error"' in html
            assert 'aria-invalid="true" autofocus' in html
        assert post(client, "NL4800123").content == post(client, "NL0000000").content.replace(
            b"NL0000000", b"NL4800123"
        )

    def test_an_order_number_that_looks_like_a_reference_is_tried_as_one(
        self, client, page_brand, frozen
    ):
        make_consignment(
            page_brand,
            reference="EC-ORD-000-001",
            customer_reference="EP-100-200-300",
            destination_postcode=POSTCODE,
        )
        assert post(client, "ep-100-200-300", POSTCODE)["Location"] == "/track/EC-ORD-000-001/"
        assert post(client, "EP-100-200-300").status_code == 404  # no such package

    def test_a_number_is_never_looked_up_from_a_link(self, client, shipment):
        response = client.get("/track/", {"reference": "NL4800123", "postcode": POSTCODE})
        assert response.status_code == 404

    def test_in_german(self, client, shipment):
        token = form_token(client.get("/?lang=de"))
        response = client.post(
            "/track/?lang=de", {"reference": "NL4800123", "postcode": "XX1", "token": token}
        )
        assert response.status_code == 404
        assert "Wir finden kein Paket mit dieser Nummer und Postleitzahl" in text_of(response)
        asked = client.post("/track/?lang=de", {"reference": "NL4800123", "token": token})
        assert "geben Sie auch die Postleitzahl der Lieferadresse ein" in text_of(asked)

    def test_it_costs_a_fixed_number_of_queries(self, client, shipment):
        token = form_token(client.get("/"))
        form = {"reference": "NL4800123", "postcode": POSTCODE, "token": token}
        with CaptureQueriesContext(connection) as found:
            assert client.post("/track/", form).status_code == 303
        form["postcode"] = "XX1"
        with CaptureQueriesContext(connection) as missed:
            assert client.post("/track/", form).status_code == 404
        # Two lookups (legs by tracking number, consignments by order number), whatever the
        # numbers match, and the counters: the lookup's, then the client's postcode counter and
        # the found one's (peeked), or on a miss the client's (peeked, counted) and the one
        # candidate's (counted).
        counters = rate_limit_queries()
        assert (len(found), len(missed)) == (2 + 3 * counters, 2 + 4 * counters)


class TestSharedNumbers:
    """Any brand may book a leg with any tracking number (and order numbers repeat)."""

    @pytest.fixture
    def shared(self, page_brand, frozen):
        other = BrandFactory(slug="other-brand", name="Other Brand")
        carrier = CarrierFactory(code="SHARED", name="Shared Parcels")
        made = {}
        for brand, reference, postcode, minutes in (
            (page_brand, "EC-SHR-000-001", "BS1 4DJ", 0),
            (other, "EC-SHR-000-002", "M1 1AE", 1),
            (other, "EC-SHR-000-003", "BS1 4DJ", 2),  # newest, and the same postcode as 001
        ):
            frozen.move_to(NOW + dt.timedelta(minutes=minutes))
            consignment = make_consignment(
                brand, reference=reference, destination_postcode=postcode, customer_reference="1001"
            )
            make_leg(consignment, carrier=carrier, tracking_number="SP-100")
            made[reference] = consignment
        return made

    def test_the_postcode_picks_the_brand(self, client, shared):
        response = post(client, "sp-100", "m11ae")
        assert response["Location"] == "/track/EC-SHR-000-002/"
        response = post(client, "1001", "M1 1AE")
        assert response["Location"] == "/track/EC-SHR-000-002/"

    def test_several_matches_give_the_newest_consignment(self, client, shared):
        assert post(client, "SP-100", "BS1 4DJ")["Location"] == "/track/EC-SHR-000-003/"
        assert post(client, "1001", "bs14dj")["Location"] == "/track/EC-SHR-000-003/"

    def test_none_matching_is_a_miss(self, client, shared):
        response = post(client, "SP-100", "EH1 1AA")
        assert response.status_code == 404
        assert NOT_FOUND in text_of(response)


class TestRateLimits:
    def test_misses_count_against_the_lookup_limit(self, client, shipment, settings):
        settings.RATE_LIMIT_LOOKUP = "3/m"
        token = form_token(client.get("/"))  # the home page is not a lookup
        for postcode in ("XX1", "XX2"):  # 1, 2
            form = {"reference": "NL4800123", "postcode": postcode, "token": token}
            assert client.post("/track/", form).status_code == 404
        form = {"reference": "NL4800123", "postcode": POSTCODE, "token": token}
        assert client.post("/track/", form).status_code == 303  # 3
        refused = client.post("/track/", form)
        assert refused.status_code == 429
        assert "Too many requests" in text_of(refused)

    def test_misses_count_against_the_postcode_limit_whether_the_number_exists_or_not(
        self, client, shipment, settings
    ):
        settings.RATE_LIMIT_POSTCODE = "3/h"
        for number in ("NL0000001", "NL0000002", "NL4800123"):
            assert post(client, number, "XX1").status_code == 404
        refused = post(client, "NL4800123", POSTCODE)
        assert refused.status_code == 429
        assert "finding parcels by tracking number or order number is paused" in text_of(refused)
        assert int(refused["Retry-After"]) > 0
        # The same for a number that does not exist: the limit says nothing about numbers.
        assert post(client, "NL0000003", POSTCODE).status_code == 429
        # Another client is not affected.
        token = form_token(client.get("/"))
        other = client.post(
            "/track/",
            {"reference": "NL4800123", "postcode": POSTCODE, "token": token},
            REMOTE_ADDR="198.51.100.20",
        )
        assert other.status_code == 303

    def test_a_parcel_guessed_at_from_many_addresses_cannot_be_found_by_number(
        self, client, shipment, settings
    ):
        """Each miss also counts against the candidate's own postcode limit: once spent, its
        number finds it no more until the window ends (answered as a miss, as on the page)."""
        settings.RATE_LIMIT_POSTCODE = "3/h"
        for n in range(3):
            response = post(client, "ORDER-4711", "XX1", REMOTE_ADDR=f"198.51.100.{n + 1}")
            assert response.status_code == 404
        response = post(client, "ORDER-4711", POSTCODE, REMOTE_ADDR="198.51.100.9")
        assert response.status_code == 404
        assert NOT_FOUND in text_of(response)
        # The reference still finds the page: only the postcode checks are paused.
        assert post(client, shipment.reference, REMOTE_ADDR="198.51.100.9").status_code == 303


class TestTheForm:
    def test_it_says_what_it_accepts(self, client, db):
        html = client.get("/").content.decode()
        text = text_of(client.get("/"))
        assert '<label class="label" for="reference">Tracking reference or number</label>' in html
        assert "the carrier's tracking number or your order number" in text
        assert "Needed with a tracking number or order number." in text
        assert 'maxlength="100"' in html  # tracking numbers are up to 100 characters
        assert 'method="post"' in html  # works without JavaScript

    def test_in_german(self, client, db):
        text = text_of(client.get("/?lang=de"))
        assert "Sendungsreferenz oder Nummer" in text
        assert "Nötig bei einer Sendungs- oder Bestellnummer." in text

    def test_a_long_tracking_number_is_shown_back_whole(self, client, db):
        number = "1Z" + "9" * 60
        html = post(client, number, "XX1").content.decode()
        assert f'value="{number}"' in html
