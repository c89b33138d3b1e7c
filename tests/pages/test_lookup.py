"""The lookup form, the redirect to the page, unknown references and bad input."""

import datetime as dt

import pytest

from tests.helpers import NOW, POSTCODE, form_token, text_of

pytestmark = pytest.mark.django_db


class TestLookup:
    def test_the_home_page_offers_the_lookup_form(self, client):
        response = client.get("/")
        assert response.status_code == 200
        html = response.content.decode()
        assert 'name="reference"' in html
        assert 'autocomplete="postal-code"' in html
        assert '<label class="label" for="reference">' in html
        assert "<title>Track your parcel</title>" in html
        assert '<h1 id="lookup-heading">Track your parcel</h1>' in html
        assert text_of(response).count("Track your parcel") == 2  # the title and the heading

    def test_a_reference_redirects_to_its_page_whatever_its_case_and_spaces(self, client, shipment):
        for typed in ("EC-PAG-000-001", " ec-pag-000-001 ", "ec pag 000 001", "ECPAG000001"):
            response = client.get("/track/", {"reference": typed})
            assert response.status_code == 302, typed
            assert response["Location"] == "/track/EC-PAG-000-001/"

    def test_the_redirect_keeps_a_language_chosen_in_the_url(self, client, shipment):
        response = client.get("/track/", {"reference": "ec-pag-000-001", "lang": "de"})
        assert response["Location"] == "/track/EC-PAG-000-001/?lang=de"

    def test_an_unknown_reference_keeps_the_form_and_what_was_typed_with_404(self, client, db):
        response = client.get("/track/", {"reference": "EC-ZZZ-ZZZ-ZZZ"})
        assert response.status_code == 404
        assert "We can't find a parcel with that reference" in text_of(response)
        assert 'value="EC-ZZZ-ZZZ-ZZZ"' in response.content.decode()
        assert 'aria-invalid="true"' in response.content.decode()

    def test_garbage_is_shown_back_escaped(self, client, db):
        response = client.get("/track/", {"reference": '<script>alert("x")</script>'})
        assert response.status_code == 404
        html = response.content.decode()
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/" in html

    def test_an_empty_reference_asks_for_one(self, client, db):
        response = client.get("/track/", {"reference": "  "})
        assert response.status_code == 400
        asked = "Enter your tracking reference, tracking number or order number."
        assert asked in text_of(response)

    def test_an_unknown_reference_in_the_path_keeps_the_form(self, client, db):
        response = client.get("/track/EC-ZZZ-ZZZ-ZZZ/")
        assert response.status_code == 404
        assert 'name="reference"' in response.content.decode()

    def test_a_lower_case_reference_in_the_path_redirects_to_the_canonical_page(
        self, client, shipment
    ):
        response = client.get("/track/ec-pag-000-001/?lang=fr")
        assert response.status_code == 301
        assert response["Location"] == "/track/EC-PAG-000-001/?lang=fr"

    def test_the_form_without_a_postcode_goes_to_the_page_and_sets_no_cookie(
        self, client, shipment
    ):
        token = form_token(client.get("/"))
        response = client.post("/track/", {"reference": "ec-pag-000-001", "token": token})
        assert response.status_code == 303
        assert response["Location"] == "/track/EC-PAG-000-001/"
        assert not response.cookies

    def test_the_form_with_the_right_postcode_verifies_and_goes_to_the_page(self, client, shipment):
        token = form_token(client.get("/"))
        response = client.post(
            "/track/", {"reference": shipment.reference, "postcode": "bs14dj", "token": token}
        )
        assert response.status_code == 303
        page = client.get(response["Location"])
        assert "Alex Morgan" in text_of(page)

    def test_the_form_with_a_wrong_postcode_says_so_and_reveals_nothing(self, client, shipment):
        token = form_token(client.get("/"))
        response = client.post(
            "/track/", {"reference": shipment.reference, "postcode": "XX1 1XX", "token": token}
        )
        assert response.status_code == 400
        assert "That postcode does not match this parcel" in text_of(response)
        assert 'value="XX1 1XX"' in response.content.decode()
        assert not response.cookies
        assert "Alex Morgan" not in text_of(client.get(f"/track/{shipment.reference}/"))

    def test_the_form_with_an_unknown_reference_answers_404_with_the_form(self, client, db):
        token = form_token(client.get("/"))
        response = client.post(
            "/track/", {"reference": "EC-ZZZ-ZZZ-ZZZ", "postcode": POSTCODE, "token": token}
        )
        assert response.status_code == 404
        assert 'name="reference"' in response.content.decode()

    def test_keyboard_users_get_labels_hints_and_one_heading(self, client, db):
        html = client.get("/").content.decode()
        assert html.count("<h1") == 1
        assert 'class="skip-link" href="#main"' in html
        assert 'for="lookup-postcode"' in html
        assert 'aria-describedby="reference-hint"' in html


BAD_PATHS = [
    "/track/..%2F..%2Fetc%2Fpasswd/",
    "/track/../../etc/passwd",
    "/track/%2E%2E%2F/",
    "/track/<script>alert(1)<%2Fscript>/",
    "/track/%3Cscript%3Ealert(1)%3C%2Fscript%3E/",
    "/track/'%20OR%201=1--/",
    "/track/EC-PAG-000-001';DROP%20TABLE%20tracking_consignment;--/",
    "/track/%00/",
    "/track/EC-PAG-000-001%00/",
    "/track/" + "A" * 5000 + "/",
    "/track/EC-PAG-000-001/verify/%00/",
    "/track/%F0%9F%93%A6/",
    "/track/%FF%FE/",
]


class TestBadInput:
    @pytest.mark.parametrize("path", BAD_PATHS)
    def test_hostile_paths_get_a_clean_not_found(self, client, shipment, path):
        response = client.get(path)
        assert response.status_code in (400, 404), path
        html = response.content.decode()
        assert "<script>alert" not in html
        assert "Traceback" not in html

    @pytest.mark.parametrize(
        "reference",
        ["\x00", "EC-PAG-000-001\x00", "A" * 5000, "../../etc/passwd", "' OR '1'='1", "%00"],
    )
    def test_hostile_lookups_get_the_form_back(self, client, shipment, reference):
        response = client.get("/track/", {"reference": reference})
        assert response.status_code == 404
        html = response.content.decode()
        assert "\x00" not in html
        assert 'name="reference"' in html

    def test_hostile_postcode_posts_are_refused_cleanly(self, client, shipment):
        token = form_token(client.get(f"/track/{shipment.reference}/"))
        for postcode in ("\x00", "A" * 5000, "<b>x</b>", "' OR '1'='1"):
            response = client.post(
                f"/track/{shipment.reference}/verify/", {"postcode": postcode, "token": token}
            )
            assert response.status_code == 400
            assert "<b>x</b>" not in response.content.decode()

    def test_the_site_404_page_is_friendly_and_neutral(self, client, db):
        response = client.get("/no/such/page/")
        assert response.status_code == 404
        assert "We can't find that page" in text_of(response)
        assert response.content.decode().count("<h1") == 1

    def test_the_500_page_renders_without_a_request(self):
        from django.template import loader

        html = loader.get_template("500.html").render({})
        assert "Something went wrong on our side" in html


class TestLookupRateLimit:
    """RATE_LIMIT_LOOKUP: page loads, lookups and misses count per client; polls do not."""

    @pytest.fixture(autouse=True)
    def tight(self, settings):
        settings.RATE_LIMIT_LOOKUP = "3/m"

    def test_a_client_over_the_limit_is_refused_politely(self, client, shipment, frozen):
        frozen.move_to(NOW + dt.timedelta(seconds=20))  # 09:30:20.654321, inside a minute
        for _ in range(3):
            assert client.get(f"/track/{shipment.reference}/").status_code == 200
        refused = client.get(f"/track/{shipment.reference}/")
        assert refused.status_code == 429
        # The minute's window ends at 09:31:00, 39.35 s later: rounded up to whole seconds.
        assert refused["Retry-After"] == "40"
        assert "Too many requests" in refused.content.decode()

    def test_once_refused_a_client_learns_nothing_about_any_reference(self, client, shipment):
        for _ in range(3):
            client.get("/track/EC-ZZZ-ZZZ-ZZZ/")
        assert client.get(f"/track/{shipment.reference}/").status_code == 429
        assert client.get("/track/EC-ZZZ-ZZZ-ZZA/").status_code == 429
        assert client.get("/track/", {"reference": shipment.reference}).status_code == 429

    def test_polling_a_known_parcel_never_counts(self, client, shipment):
        url = f"/track/{shipment.reference}/"
        for _ in range(10):
            assert client.get(url, headers={"HX-Request": "true"}).status_code == 200
        assert client.get(url).status_code == 200

    def test_polling_for_unknown_references_counts(self, client, shipment):
        for n in range(3):
            client.get(f"/track/EC-ZZZ-ZZZ-ZZ{n}/", headers={"HX-Request": "true"})
        assert (
            client.get("/track/EC-ZZZ-ZZZ-ZZ9/", headers={"HX-Request": "true"}).status_code == 429
        )

    def test_other_clients_are_not_affected(self, client, shipment):
        for _ in range(4):
            client.get(f"/track/{shipment.reference}/")
        other = client.get(f"/track/{shipment.reference}/", REMOTE_ADDR="198.51.100.20")
        assert other.status_code == 200
