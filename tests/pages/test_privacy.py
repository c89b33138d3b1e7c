"""Privacy tiers: what an anonymous viewer never sees, and what the postcode reveals."""

import pytest
from django.test import Client

from tests.helpers import POSTCODE, form_token, text_of

pytestmark = pytest.mark.django_db

PRIVATE = ["Alex Morgan", "alex.morgan@example.com", "12 Harbour Street", "BS1 4DJ", "A. Morgan"]


def verify(client, page_url, postcode, **extra):
    token = form_token(client.get(page_url))
    return client.post(f"{page_url}verify/", {"postcode": postcode, "token": token}, **extra)


class TestAnonymous:
    def test_it_never_sees_name_email_address_postcode_or_signer(self, client, page_url):
        for headers in ({}, {"HX-Request": "true"}):
            html = client.get(page_url, headers=headers).content.decode()
            for secret in PRIVATE:
                assert secret not in html, secret
            assert "ORDER-4711" not in html

    def test_it_sees_that_someone_signed_and_the_town(self, client, page_url):
        text = text_of(client.get(page_url))
        assert "Signed for" in text
        assert "Signed for by" not in text
        assert "Bristol" in text

    def test_it_is_offered_the_postcode_form(self, client, page_url):
        html = client.get(page_url).content.decode()
        assert f'action="{page_url}verify/"' in html
        assert 'autocomplete="postal-code"' in html
        assert '<label class="label" for="postcode">' in html


class TestVerification:
    def test_the_right_postcode_reveals_the_details_for_this_session(self, client, page_url):
        response = verify(client, page_url, " bs14dj ")
        assert response.status_code == 303
        assert response["Location"] == page_url
        assert response.cookies["sessionid"]["expires"] == ""  # ends with the browser
        html = client.get(page_url).content.decode()
        for secret in PRIVATE:
            assert secret in html, secret
        assert "Signed for by A. Morgan" in html
        assert "ORDER-4711" in html
        assert 'action="' + page_url + 'verify/"' not in html

    def test_another_browser_still_sees_nothing(self, client, page_url):
        verify(client, page_url, POSTCODE)
        html = Client().get(page_url).content.decode()
        for secret in PRIVATE:
            assert secret not in html

    def test_verification_is_per_consignment(self, client, page_url, page_brand):
        from tests.factories import make_consignment

        other = make_consignment(page_brand, reference="EC-PAG-000-009", recipient_name="Sam Other")
        verify(client, page_url, POSTCODE)
        assert "Sam Other" not in client.get(f"/track/{other.reference}/").content.decode()

    def test_a_wrong_postcode_says_so_and_reveals_nothing(self, client, page_url):
        response = verify(client, page_url, "SW1A 1AA")
        assert response.status_code == 400
        html = response.content.decode()
        assert "That postcode does not match this parcel." in text_of(response)
        assert 'aria-invalid="true"' in html
        assert "<title>Error:" in html
        for secret in PRIVATE:
            assert secret not in html
        assert not response.cookies

    def test_an_empty_postcode_is_asked_for_and_not_counted(self, client, page_url, settings):
        settings.RATE_LIMIT_POSTCODE = "1/h"
        for _ in range(3):
            response = verify(client, page_url, "  ")
            assert response.status_code == 400
            assert "Enter the postcode the parcel is being delivered to." in text_of(response)
        assert verify(client, page_url, POSTCODE).status_code == 303

    def test_the_verified_page_is_never_stored_by_caches(self, client, page_url):
        verify(client, page_url, POSTCODE)
        response = client.get(page_url)
        assert response["Cache-Control"] == "private, no-store"
        assert "Cookie" in response["Vary"]


class TestRateLimits:
    def test_the_eleventh_failure_is_refused_even_with_the_right_postcode(self, client, page_url):
        for attempt in range(10):
            assert verify(client, page_url, "XX1 1XX").status_code == 400, attempt
        response = verify(client, page_url, POSTCODE)
        assert response.status_code == 429
        # The clock is frozen at 09:30:00.654321 (tests.helpers.NOW): the hour's window ends at
        # 10:00, 1,799.35 s later, rounded up to whole seconds.
        assert response["Retry-After"] == "1800"
        assert "Too many attempts" in text_of(response)
        assert response["Cache-Control"] == "no-store"
        assert "Alex Morgan" not in client.get(page_url).content.decode()

    def test_the_limit_per_client_spans_consignments(self, client, page_brand, page_url, settings):
        from tests.factories import make_consignment

        settings.RATE_LIMIT_POSTCODE = "3/h"
        others = [
            make_consignment(
                page_brand, reference=f"EC-PAG-100-00{n}", destination_postcode="BS1 4DJ"
            )
            for n in range(3)
        ]
        for other in others:
            assert verify(client, f"/track/{other.reference}/", "XX1 1XX").status_code == 400
        # A consignment this client never guessed at: still refused, by the client limit.
        assert verify(client, page_url, POSTCODE).status_code == 429
        # Another client may still verify it.
        stranger = Client(REMOTE_ADDR="203.0.113.9")
        assert verify(stranger, page_url, POSTCODE, REMOTE_ADDR="203.0.113.9").status_code == 303

    def test_the_limit_per_consignment_spans_clients(self, page_url, settings):
        settings.RATE_LIMIT_POSTCODE = "3/h"
        for n in range(3):
            guesser = Client()
            address = f"198.51.100.{n + 1}"
            assert verify(guesser, page_url, "XX1 1XX", REMOTE_ADDR=address).status_code == 400
        newcomer = Client()
        response = verify(newcomer, page_url, POSTCODE, REMOTE_ADDR="198.51.100.200")
        assert response.status_code == 429

    def test_the_window_ends(self, client, page_url, settings, frozen):
        import datetime as dt

        settings.RATE_LIMIT_POSTCODE = "2/h"
        for _ in range(2):
            verify(client, page_url, "XX1 1XX")
        assert verify(client, page_url, POSTCODE).status_code == 429
        frozen.shift(dt.timedelta(hours=1))
        assert verify(client, page_url, POSTCODE).status_code == 303

    def test_the_lookup_form_shares_the_limits(self, client, shipment, settings):
        settings.RATE_LIMIT_POSTCODE = "2/h"
        for _ in range(2):
            token = form_token(client.get("/"))
            data = {"reference": shipment.reference, "postcode": "XX1 1XX", "token": token}
            assert client.post("/track/", data).status_code == 400
        token = form_token(client.get("/"))
        data = {"reference": shipment.reference, "postcode": POSTCODE, "token": token}
        response = client.post("/track/", data)
        assert response.status_code == 429
        assert response["Retry-After"] == "1800"  # as above: NOW to the end of its hour
