"""The embed page: framing policy, parent origins, verification without cookies, no theming
from the URL."""

import datetime as dt
import re
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import BrandFactory, make_consignment
from tests.helpers import NOW, POSTCODE, form_token, text_of
from tracking.models import Brand, validate_embed_origins
from tracking.pages import verification

pytestmark = pytest.mark.django_db

SHOP = "https://shop.harbour.example"


@pytest.fixture
def embeddable(page_brand, shipment):
    page_brand.embed_origins = f"{SHOP}\nhttps://*.harbour-stores.example"
    page_brand.save()
    return shipment


def embed_url(consignment, **params) -> str:
    url = reverse("embed", kwargs={"reference": consignment.reference})
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{url}?{query}" if query else url


def frame_ancestors(response) -> str:
    policy = response["Content-Security-Policy"]
    return re.search(r"frame-ancestors ([^;]+)", policy).group(1).strip()


class TestFramingPolicy:
    def test_the_embed_page_may_be_framed_by_exactly_the_brands_origins(self, client, embeddable):
        response = client.get(embed_url(embeddable, parent=SHOP))
        assert response.status_code == 200
        assert frame_ancestors(response) == f"{SHOP} https://*.harbour-stores.example"
        assert "X-Frame-Options" not in response

    def test_it_carries_the_shapes_its_icons_refer_to(self, client, embeddable):
        html = client.get(embed_url(embeddable, parent=SHOP)).content.decode()
        used = set(re.findall(r'<use href="#(icon-[a-z]+)"/>', html))
        assert used
        assert used <= set(re.findall(r'<symbol id="(icon-[a-z]+)"', html))

    def test_its_live_region_and_304s_carry_the_same_policy(self, client, embeddable):
        url = embed_url(embeddable, parent=SHOP)
        live = client.get(url, HTTP_HX_REQUEST="true")
        assert frame_ancestors(live) == f"{SHOP} https://*.harbour-stores.example"
        unchanged = client.get(url, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=live["ETag"])
        assert unchanged.status_code == 304
        assert frame_ancestors(unchanged) == f"{SHOP} https://*.harbour-stores.example"
        assert "X-Frame-Options" not in unchanged

    def test_a_brand_without_embed_origins_is_framed_by_no_one(self, client, shipment):
        response = client.get(embed_url(shipment, parent=SHOP))
        assert frame_ancestors(response) == "'none'"
        assert response["X-Frame-Options"] == "DENY"

    @pytest.mark.parametrize("path", ["/", "/track/EC-PAG-000-001/", "/admin/login/"])
    def test_every_other_page_refuses_framing(self, client, embeddable, path):
        response = client.get(path)
        assert frame_ancestors(response) == "'none'"
        assert response["X-Frame-Options"] == "DENY"

    def test_an_unknown_reference_is_not_framed(self, client, embeddable):
        response = client.get("/embed/EC-ZZZ-ZZZ-ZZZ/")
        assert response.status_code == 404
        assert frame_ancestors(response) == "'none'"


class TestParentOrigin:
    @pytest.mark.parametrize(
        ("parent", "told"),
        [
            (SHOP, SHOP),
            (SHOP.upper(), SHOP),
            ("https://eu.harbour-stores.example", "https://eu.harbour-stores.example"),
            ("https://harbour-stores.example", None),  # the wildcard means subdomains only
            ("http://shop.harbour.example", None),  # another scheme is another origin
            ("https://evil.example", None),
            ("https://shop.harbour.example.evil.example", None),
            ("https://*.harbour-stores.example", None),
            ("", None),
        ],
    )
    def test_only_an_allowed_parent_is_told_the_height(self, client, embeddable, parent, told):
        response = client.get(embed_url(embeddable), {"parent": parent})
        match = re.search(r'data-parent-origin="([^"]*)"', response.content.decode())
        assert (match.group(1) if match else None) == told

    def test_a_plain_iframe_gets_the_brands_origins_to_check_its_parent_against(
        self, client, embeddable
    ):
        html = client.get(embed_url(embeddable)).content.decode()
        assert "data-parent-origin" not in html
        origins = re.search(r'data-embed-origins="([^"]*)"', html).group(1)
        assert origins == f"{SHOP} https://*.harbour-stores.example"

    def test_a_change_of_embed_origins_is_a_new_page(self, client, embeddable, page_brand):
        before = client.get(embed_url(embeddable))
        page_brand.embed_origins = SHOP
        page_brand.save()
        after = client.get(embed_url(embeddable), headers={"If-None-Match": before["ETag"]})
        assert after.status_code == 200  # the cached body's list would be stale
        assert f'data-embed-origins="{SHOP}"' in after.content.decode()

    def test_the_embed_page_has_the_content_without_the_sites_chrome(self, client, embeddable):
        response = client.get(embed_url(embeddable, parent=SHOP))
        html = response.content.decode()
        assert 'id="live"' in html and 'class="card details"' in html
        assert 'class="brandbar"' not in html and "<footer" not in html
        assert "embed-frame.js" in html
        assert f"parent={SHOP.replace(':', '%3A').replace('/', '%2F')}" in html  # poll keeps it

    def test_theming_cannot_come_from_the_url(self, client, embeddable, page_brand):
        evil = "</style><script>alert(1)</script>"
        response = client.get(
            embed_url(embeddable),
            {"parent": SHOP, "primary_colour": "#ff0000", "css": evil, "theme": evil},
        )
        html = response.content.decode()
        assert "ff0000" not in html and "alert(1)" not in html
        own = client.get(embed_url(embeddable, parent=SHOP)).content.decode()
        theme = re.search(r'href="(/theme/[^"]+)"', own).group(1)
        assert theme in html


class TestVerificationWithoutCookies:
    def verify(self, client, consignment, postcode, parent=SHOP):
        page = client.get(embed_url(consignment, parent=parent))
        action = reverse("embed-verify", kwargs={"reference": consignment.reference})
        return client.post(
            f"{action}?parent={parent}",
            {"postcode": postcode, "token": form_token(page)},
            HTTP_ORIGIN="http://testserver",
        )

    def test_a_right_postcode_comes_back_as_a_token_in_the_url_not_a_cookie(
        self, client, embeddable
    ):
        response = self.verify(client, embeddable, "bs14dj")
        assert response.status_code == 303
        assert not response.cookies
        query = parse_qs(urlparse(response["Location"]).query)
        assert query["parent"] == [SHOP]
        assert verification.embed_access_valid(query["access"][0], embeddable)
        shown = client.get(response["Location"])
        assert "Alex Morgan" in text_of(shown)
        assert "A. Morgan" in text_of(shown)
        assert shown["Cache-Control"] == "private, no-store"
        assert urlencode({"access": query["access"][0]}) in shown.content.decode()  # polls keep it
        assert frame_ancestors(shown).startswith(SHOP)
        assert not client.cookies

    def test_a_wrong_postcode_is_answered_inside_the_frame(self, client, embeddable):
        response = self.verify(client, embeddable, "XX1 1XX")
        assert response.status_code == 400
        html = response.content.decode()
        assert "does not match" in html
        assert 'class="embedded"' in html
        assert frame_ancestors(response).startswith(SHOP)
        assert "Alex Morgan" not in html

    def test_a_tampered_token_reveals_nothing(self, client, embeddable):
        token = verification.embed_access_token(embeddable)
        response = client.get(embed_url(embeddable, parent=SHOP, access=token[:-2] + "xx"))
        assert "Alex Morgan" not in text_of(response)
        assert "Delivery postcode" in text_of(response)

    def test_an_expired_token_reveals_nothing(self, client, embeddable):
        token = verification.embed_access_token(embeddable)
        later = NOW + dt.timedelta(seconds=verification.EMBED_ACCESS_MAX_AGE + 60)
        with time_machine.travel(later, tick=False):
            response = client.get(embed_url(embeddable, parent=SHOP, access=token))
        assert "Alex Morgan" not in text_of(response)

    def test_another_consignments_token_reveals_nothing(self, client, embeddable, page_brand):
        other = make_consignment(page_brand, reference="EC-PAG-000-002")
        token = verification.embed_access_token(other)
        response = client.get(embed_url(embeddable, parent=SHOP, access=token))
        assert "Alex Morgan" not in text_of(response)

    def test_the_embed_form_is_guarded_like_the_page_form(self, client, embeddable):
        action = reverse("embed-verify", kwargs={"reference": embeddable.reference})
        forged = client.post(action, {"postcode": POSTCODE, "token": "forged"})
        assert forged.status_code == 403
        assert frame_ancestors(forged).startswith(SHOP)
        foreign = client.post(
            action,
            {"postcode": POSTCODE, "token": form_token(client.get(embed_url(embeddable)))},
            HTTP_ORIGIN="https://evil.example",
        )
        assert foreign.status_code == 403


def test_the_embed_page_costs_the_same_queries_as_the_page(
    client, embeddable, django_assert_num_queries
):
    url = embed_url(embeddable, parent=SHOP)
    with django_assert_num_queries(2):
        first = client.get(url, HTTP_HX_REQUEST="true")
    with django_assert_num_queries(1):
        client.get(url, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=first["ETag"])


def test_the_page_and_the_embed_have_different_etags(client, embeddable):
    page = client.get(f"/track/{embeddable.reference}/")
    embedded = client.get(embed_url(embeddable, parent=SHOP))
    elsewhere = client.get(embed_url(embeddable, parent="https://eu.harbour-stores.example"))
    assert len({page["ETag"], embedded["ETag"], elsewhere["ETag"]}) == 3


class TestEmbedOrigins:
    @pytest.mark.parametrize(
        "value",
        [
            "https://shop.example.com",
            "http://localhost:8001",
            "https://shop.example.com:8443\nhttps://*.example.com",
            "https://shop.example.com/",
        ],
    )
    def test_origins_staff_may_enter(self, value):
        validate_embed_origins(value)

    @pytest.mark.parametrize(
        "value",
        [
            "https://shop.example.com/orders",
            "shop.example.com",
            "*",
            "https://*",
            "https://shop.*.example.com",
            "ftp://shop.example.com",
            "https://shop.example.com?x=1",
            "https://user@shop.example.com",
        ],
    )
    def test_anything_else_is_refused_with_the_rule(self, value):
        with pytest.raises(ValidationError, match="not an origin"):
            validate_embed_origins(value)

    def test_the_admin_checks_them_and_shows_the_snippet(self, admin_client):
        brand = BrandFactory(slug="snippet", name="Snippet Co")
        url = reverse("admin:tracking_brand_change", args=[brand.pk])
        page = admin_client.get(url).content.decode()
        assert "http://testserver/static/tracking/embed.js" in page
        assert "data-reference=&quot;EC-XXX-XXX-XXX&quot;" in page
        assert "No embed origins yet" in page
        response = admin_client.post(
            url,
            {
                "name": "Snippet Co",
                "slug": "snippet",
                "primary_colour": "#1f4e8c",
                "accent_colour": "#0b7a53",
                "default_language": "en",
                "time_zone": "Europe/London",
                "embed_origins": "https://shop.example.com/checkout",
            },
        )
        assert response.status_code == 200
        assert "not an origin" in response.content.decode()
        assert Brand.objects.get(pk=brand.pk).embed_origins == ""


def test_embed_js_is_served_at_a_stable_address(settings):
    from django.test import Client

    # Without collectstatic (a fresh checkout) whitenoise serves from the finders.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    response = Client().get("/static/tracking/embed.js")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert b"tracking-portal:height" in body
    assert b"event.origin !== portal" in body
