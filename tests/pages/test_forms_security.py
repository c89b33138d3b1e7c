"""The public forms: no cookie before a submission, a signed token and an Origin check
instead of Django's CSRF cookie, friendly refusals."""

import datetime as dt

import pytest
from django.test import Client

from tests.helpers import POSTCODE, form_token, text_of
from tracking.pages import verification

pytestmark = pytest.mark.django_db


class TestNoCookiesUntilSubmitted:
    @pytest.mark.parametrize("path", ["/", "/track/EC-PAG-000-001/", "/track/EC-ZZZ-ZZZ-ZZZ/"])
    def test_public_pages_set_no_cookie(self, client, shipment, path):
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(path, headers=headers)
            assert not response.cookies, path
            assert "Set-Cookie" not in response.headers

    def test_the_forms_carry_no_django_csrf_token(self, client, page_url):
        for url in ("/", page_url):
            html = client.get(url).content.decode()
            assert "csrfmiddlewaretoken" not in html
            assert 'name="token"' in html

    def test_the_session_cookie_comes_only_with_a_correct_postcode(self, client, page_url):
        token = form_token(client.get(page_url))
        wrong = client.post(f"{page_url}verify/", {"postcode": "XX1 1XX", "token": token})
        assert not wrong.cookies
        right = client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": token})
        assert list(right.cookies) == ["sessionid"]
        assert right.cookies["sessionid"]["httponly"]
        assert right.cookies["sessionid"]["samesite"] == "Lax"


class TestFormToken:
    def test_a_missing_token_is_refused_with_a_friendly_page(self, page_url):
        client = Client(enforce_csrf_checks=True)
        response = client.post(f"{page_url}verify/", {"postcode": POSTCODE})
        assert response.status_code == 403
        text = text_of(response)
        assert "Please try again" in text
        assert "Back to tracking" in text
        assert f'href="{page_url}"' in response.content.decode()
        assert not response.cookies
        assert "Alex Morgan" not in response.content.decode()

    def test_a_forged_token_is_refused(self, client, page_url):
        token = form_token(client.get(page_url))
        forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        response = client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": forged})
        assert response.status_code == 403

    def test_a_token_for_another_consignment_or_form_is_refused(self, client, page_url, shipment):
        lookup_token = form_token(client.get("/"))
        response = client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": lookup_token})
        assert response.status_code == 403
        other = verification.form_token("00000000-0000-0000-0000-000000000000")
        response = client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": other})
        assert response.status_code == 403

    def test_an_expired_token_is_refused_and_a_fresh_page_works(self, client, page_url, frozen):
        token = form_token(client.get(page_url))
        frozen.shift(dt.timedelta(hours=3))
        response = client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": token})
        assert response.status_code == 403
        fresh = form_token(client.get(page_url))
        response = client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": fresh})
        assert response.status_code == 303

    def test_a_token_lives_at_least_an_hour(self, client, page_url, frozen):
        token = form_token(client.get(page_url))
        frozen.shift(dt.timedelta(minutes=61))
        response = client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": token})
        assert response.status_code == 303

    def test_refusals_are_not_counted_against_the_rate_limit(self, client, page_url, settings):
        settings.RATE_LIMIT_POSTCODE = "1/h"
        for _ in range(3):
            response = client.post(f"{page_url}verify/", {"postcode": "XX1 1XX", "token": "nope"})
            assert response.status_code == 403
        token = form_token(client.get(page_url))
        response = client.post(f"{page_url}verify/", {"postcode": POSTCODE, "token": token})
        assert response.status_code == 303

    def test_the_lookup_form_refuses_a_bad_token_and_offers_a_fresh_form(self, client, shipment):
        response = client.post("/track/", {"reference": shipment.reference, "token": "x"})
        assert response.status_code == 403
        assert 'name="token"' in response.content.decode()
        assert f'value="{shipment.reference}"' in response.content.decode()
        assert "Please try again" in text_of(response)


class TestOrigin:
    def test_a_foreign_origin_is_refused(self, client, page_url):
        token = form_token(client.get(page_url))
        response = client.post(
            f"{page_url}verify/",
            {"postcode": POSTCODE, "token": token},
            headers={"Origin": "https://evil.example"},
        )
        assert response.status_code == 403
        assert not response.cookies

    def test_a_null_origin_is_refused(self, client, page_url):
        token = form_token(client.get(page_url))
        response = client.post(
            f"{page_url}verify/", {"postcode": POSTCODE, "token": token}, headers={"Origin": "null"}
        )
        assert response.status_code == 403

    def test_our_own_origin_is_accepted(self, client, page_url):
        token = form_token(client.get(page_url))
        response = client.post(
            f"{page_url}verify/",
            {"postcode": POSTCODE, "token": token},
            headers={"Origin": "http://testserver"},
        )
        assert response.status_code == 303

    def test_the_lookup_form_checks_the_origin_too(self, client, shipment):
        token = form_token(client.get("/"))
        response = client.post(
            "/track/",
            {"reference": shipment.reference, "token": token},
            headers={"Origin": "https://evil.example"},
        )
        assert response.status_code == 403

    def test_the_check_takes_the_allowed_origins(self):
        allowed = {"https://track.example", "https://shop.example:8443"}
        assert verification.origin_allowed(None, allowed)
        assert verification.origin_allowed("https://track.example", allowed)
        assert verification.origin_allowed("HTTPS://SHOP.EXAMPLE:8443/", allowed)
        assert not verification.origin_allowed("https://shop.example", allowed)
        assert not verification.origin_allowed("null", allowed)
        assert not verification.origin_allowed("https://track.example.evil.example", allowed)


class TestDjangosOwnCsrf:
    def test_a_csrf_failure_in_the_back_office_gets_a_friendly_page(self, db):
        client = Client(enforce_csrf_checks=True)
        response = client.post("/admin/login/", {"username": "x", "password": "y"})
        assert response.status_code == 403
        assert "Please try again" in text_of(response)
        assert response.content.decode().count("<h1") == 1

    def test_get_on_the_verify_address_goes_back_to_the_page(self, client, page_url):
        response = client.get(f"{page_url}verify/")
        assert response.status_code == 302
        assert response["Location"] == page_url
