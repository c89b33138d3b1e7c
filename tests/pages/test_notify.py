"""The "Email me updates" form on the tracking page and in the embed, and the pages the emails
link to (design section 7.4): the form guarded like the postcode form (signed token and
Origin, no cookie), the same answer whatever is known about the address, the field's errors,
the limits, htmx's partial; confirming by POST only; unsubscribing with RFC 8058's one-click
POST."""

import datetime as dt
import re
from urllib.parse import urlencode

import pytest
import time_machine
from django.test import Client
from django.utils import translation

from tests.factories import make_consignment, rate_limit_queries
from tests.helpers import NOW, POSTCODE, text_of
from tracking.delivery.email_content import compose
from tracking.models import (
    EmailKind,
    EmailState,
    EmailSubscriber,
    OutboundEmail,
    SubscriberState,
)
from tracking.pages import verification
from tracking.services import notifications

pytestmark = pytest.mark.django_db

SHOP = "https://shop.harbour.example"


def notify_token(response) -> str:
    """The sign-up form's token (the page's first token is the postcode form's)."""
    html = response.content.decode()
    match = re.search(r'id="notify-form".*?name="token" value="([^"]+)"', html, re.S)
    assert match, "the page has no sign-up form"
    return match.group(1)


def notify_section(response) -> str:
    html = response.content.decode()
    return html[
        html.index('<section class="card notify"') : html.index(
            "</section>", html.index('id="notify"')
        )
    ]


def sign_up(client, page_url, email="sam@example.com", *, query="", **headers):
    token = notify_token(client.get(f"{page_url}{query}"))
    return client.post(f"{page_url}notify/{query}", {"email": email, "token": token}, **headers)


def subscribers() -> list[tuple[str, str, str]]:
    return list(EmailSubscriber.objects.values_list("email", "language", "state"))


def frame_ancestors(response) -> str:
    policy = response["Content-Security-Policy"]
    return re.search(r"frame-ancestors ([^;]+)", policy).group(1).strip()


class TestTheForm:
    def test_the_page_offers_it_with_a_label_a_token_and_no_cookie(self, client, page_url):
        response = client.get(page_url)
        section = notify_section(response)
        assert '<label class="label" for="notify-email">Email address</label>' in section
        assert 'type="email"' in section and 'autocomplete="email"' in section
        assert f'action="{page_url}notify/#notify"' in section
        assert f'data-hx-post="{page_url}notify/"' in section
        assert "Email me updates" in section
        assert not response.cookies

    def test_its_token_is_bound_to_this_consignment_and_form(self, client, shipment, page_url):
        token = notify_token(client.get(page_url))
        assert verification.token_valid(token, verification.notify_binding(shipment))
        assert not verification.token_valid(token, str(shipment.pk))  # not the postcode form's

    def test_it_adds_no_query_to_the_page(self, client, page_url, django_assert_num_queries):
        with django_assert_num_queries(2 + rate_limit_queries()):
            response = client.get(page_url)
        assert 'id="notify-form"' in response.content.decode()

    def test_a_verified_visitor_still_has_it(self, client, page_url):
        client.post(
            f"{page_url}verify/",
            {
                "postcode": POSTCODE,
                "token": re.search(
                    r'name="token" value="([^"]+)"', client.get(page_url).content.decode()
                ).group(1),
            },
        )
        response = client.get(page_url)
        assert "Alex Morgan" in text_of(response)
        assert 'id="notify-form"' in response.content.decode()

    @pytest.mark.parametrize("language", ["en", "de", "fr", "es"])
    def test_it_speaks_the_pages_four_languages(self, client, page_url, language):
        section = notify_section(client.get(page_url, {"lang": language}))
        with translation.override(language):
            for words in ("Get updates by email", "Email address", "Email me updates"):
                assert translation.gettext(words) in section
                if language != "en":
                    assert translation.gettext(words) != words
        assert f'action="{page_url}notify/?lang={language}#notify"' in section

    def test_the_embed_offers_it_keeping_the_parent_and_the_access(
        self, client, page_brand, shipment
    ):
        page_brand.embed_origins = SHOP
        page_brand.save()
        access = verification.embed_access_token(shipment)
        response = client.get(f"/embed/{shipment.reference}/", {"parent": SHOP, "access": access})
        section = notify_section(response)
        query = urlencode({"parent": SHOP, "access": access}).replace("&", "&amp;")
        assert f'action="/embed/{shipment.reference}/notify/?{query}#notify"' in section


class TestSigningUp:
    def test_an_address_gets_check_your_inbox_and_a_confirmation_email(
        self, client, page_url, shipment
    ):
        response = sign_up(client, page_url, "  Sam@Example.COM ")
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        text = text_of(response)
        assert "Check your inbox: we sent a link to confirm." in text
        assert "Open the link in the email to Sam@Example.COM" in text
        assert 'id="notify-form"' not in response.content.decode()  # the notice replaces it
        assert 'id="live"' in response.content.decode()  # the whole page, without JavaScript
        assert subscribers() == [("sam@example.com", "en", SubscriberState.PENDING)]
        [email] = OutboundEmail.objects.all()
        assert email.kind == EmailKind.CONFIRM and email.state == EmailState.PENDING
        assert not response.cookies

    @pytest.mark.parametrize("language", ["de", "fr", "es"])
    def test_the_subscriber_gets_the_pages_language(self, client, page_url, language):
        response = sign_up(client, page_url, query=f"?lang={language}")
        assert response.status_code == 200
        assert subscribers() == [("sam@example.com", language, SubscriberState.PENDING)]
        with translation.override(language):
            assert translation.gettext("Check your inbox: we sent a link to confirm.") in text_of(
                response
            )

    def test_a_negotiated_language_counts_too(self, client, page_url):
        sign_up(client, page_url, HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
        assert subscribers() == [("sam@example.com", "fr", SubscriberState.PENDING)]

    def test_the_answer_is_the_same_whoever_already_follows_the_parcel(
        self, client, page_url, shipment, settings
    ):
        settings.RATE_LIMIT_NOTIFY_CONSIGNMENT = "10/d"
        new = notify_section(sign_up(client, page_url, "new@example.com"))
        confirmed = "fan@example.com"
        notifications.sign_up(
            consignment=shipment, email=confirmed, language="en", client="198.51.100.1"
        )
        notifications.confirm(shipment.email_subscribers.get(email=confirmed))
        notifications.suppress("gone@example.com", reason="bounced")
        pending = "new@example.com"
        for address in (confirmed, "gone@example.com", pending):
            again = notify_section(sign_up(client, page_url, address))
            assert again.replace(address, "new@example.com") == new, address

    @pytest.mark.parametrize(
        ("typed", "error"),
        [
            ("", "Enter your email address."),
            ("   ", "Enter your email address."),
            ("sam", "Enter an email address in the form name@example.com."),
            ("sam@example", "Enter an email address in the form name@example.com."),
            ("sam@@example.com", "Enter an email address in the form name@example.com."),
            ("x" * 300 + "@example.com", "Enter an email address in the form name@example.com."),
            ("sam@exa\x00mple.com", "Enter an email address in the form name@example.com."),
            ('"><script>alert(1)</script>@x.com', "in the form name@example.com."),
            ("sam@example.com\nBcc: eve@example.com", "in the form name@example.com."),
        ],
    )
    def test_a_bad_address_is_a_400_with_the_error_beside_the_field(
        self, client, page_url, typed, error
    ):
        response = sign_up(client, page_url, typed)
        assert response.status_code == 400
        section = notify_section(response)
        assert error in text_of(response)
        assert 'aria-invalid="true"' in section and "notify-error" in section
        assert "<script>" not in section
        assert text_of(response).startswith("Error:")  # the title says so first
        assert subscribers() == []

    def test_a_field_sent_twice_or_missing_is_not_a_500(self, client, page_url):
        token = notify_token(client.get(page_url))
        missing = client.post(f"{page_url}notify/", {"token": token})
        assert missing.status_code == 400
        twice = client.post(
            f"{page_url}notify/", {"email": ["a@example.com", "b@example.com"], "token": token}
        )
        assert twice.status_code == 200
        assert subscribers() == [("b@example.com", "en", SubscriberState.PENDING)]

    def test_too_many_sign_ups_are_a_polite_429_with_the_page(self, client, page_url, settings):
        settings.RATE_LIMIT_NOTIFY_CLIENT = "2/h"
        for n in range(2):
            assert sign_up(client, page_url, f"s{n}@example.com").status_code == 200
        response = sign_up(client, page_url, "s3@example.com")
        assert response.status_code == 429
        assert "Too many requests for email updates. Please try again later." in text_of(response)
        assert 'id="live"' in response.content.decode()  # still the page
        assert 'value="s3@example.com"' in notify_section(response)  # and the form, kept
        assert len(subscribers()) == 2
        other = sign_up(client, page_url, "s4@example.com", REMOTE_ADDR="198.51.100.7")
        assert other.status_code == 200  # the limit is per client address

    def test_a_get_goes_back_to_the_page(self, client, page_url):
        response = client.get(f"{page_url}notify/?lang=de")
        assert response.status_code == 302
        assert response["Location"] == f"{page_url}?lang=de"

    def test_an_unknown_parcel_is_a_404(self, client, page_url):
        token = notify_token(client.get(page_url))
        response = client.post("/track/EC-ZZZ-ZZZ-ZZZ/notify/", {"email": "a@b.co", "token": token})
        assert response.status_code == 404
        assert subscribers() == []


class TestGuardedLikeThePostcodeForm:
    def post(self, client, page_url, token, **headers):
        return client.post(
            f"{page_url}notify/", {"email": "sam@example.com", "token": token}, **headers
        )

    def test_without_a_token_nothing_is_sent(self, page_url):
        client = Client(enforce_csrf_checks=True)
        response = client.post(f"{page_url}notify/", {"email": "sam@example.com"})
        assert response.status_code == 403
        assert "Please try again" in text_of(response)
        assert f'href="{page_url}"' in response.content.decode()
        assert subscribers() == []

    def test_the_postcode_forms_token_is_no_good_here_nor_the_other_way_round(
        self, client, page_url
    ):
        page = client.get(page_url)
        postcode_token = re.search(r'name="token" value="([^"]+)"', page.content.decode())[1]
        assert self.post(client, page_url, postcode_token).status_code == 403
        refused = client.post(
            f"{page_url}verify/", {"postcode": POSTCODE, "token": notify_token(page)}
        )
        assert refused.status_code == 403
        assert subscribers() == []

    def test_another_consignments_token_is_refused(self, client, page_url, page_brand):
        other = make_consignment(page_brand, reference="EC-PAG-000-009")
        token = notify_token(client.get(f"/track/{other.reference}/"))
        assert self.post(client, page_url, token).status_code == 403

    @pytest.mark.parametrize("origin", ["https://evil.example", "null"])
    def test_a_foreign_origin_is_refused(self, client, page_url, origin):
        token = notify_token(client.get(page_url))
        assert self.post(client, page_url, token, HTTP_ORIGIN=origin).status_code == 403
        assert subscribers() == []

    def test_our_own_origin_is_accepted(self, client, page_url):
        token = notify_token(client.get(page_url))
        response = self.post(client, page_url, token, HTTP_ORIGIN="http://testserver")
        assert response.status_code == 200

    def test_an_expired_form_is_refused_and_a_fresh_one_works(self, client, page_url, frozen):
        token = notify_token(client.get(page_url))
        frozen.shift(dt.timedelta(hours=3))
        assert self.post(client, page_url, token).status_code == 403
        assert self.post(client, page_url, notify_token(client.get(page_url))).status_code == 200


class TestWithHtmx:
    def post(self, client, page_url, email, token=None):
        token = token or notify_token(client.get(page_url))
        return client.post(
            f"{page_url}notify/", {"email": email, "token": token}, HTTP_HX_REQUEST="true"
        )

    def test_it_gets_the_forms_partial_always_with_200(self, client, page_url, settings):
        settings.RATE_LIMIT_NOTIFY_CLIENT = "1/h"
        ok = self.post(client, page_url, "sam@example.com")
        bad = self.post(client, page_url, "nope")
        limited = self.post(client, page_url, "kim@example.com")
        for response in (ok, bad, limited):
            html = response.content.decode()
            assert response.status_code == 200
            assert html.strip().startswith('<section class="card notify" id="notify"')
            assert "<html" not in html and 'id="live"' not in html
            assert 'id="notify-status" class="notify__status" role="status"' in html
            assert "HX-Request" in response["Vary"]
        assert "Check your inbox" in ok.content.decode()
        assert 'aria-invalid="true" autofocus' in bad.content.decode()
        assert "Too many requests" in limited.content.decode()

    def test_a_stale_form_comes_back_fresh_with_a_notice(self, client, page_url):
        response = self.post(client, page_url, "sam@example.com", token="stale")
        assert response.status_code == 200
        assert "The form was open for too long" in response.content.decode()
        again = self.post(client, page_url, "sam@example.com", token=notify_token(response))
        assert "Check your inbox" in again.content.decode()
        assert len(subscribers()) == 1


class TestInTheEmbed:
    @pytest.fixture
    def embeddable(self, page_brand, shipment):
        page_brand.embed_origins = SHOP
        page_brand.save()
        return shipment

    def post(self, client, consignment, email, **query):
        url = f"/embed/{consignment.reference}/"
        token = notify_token(client.get(url, query))
        return client.post(
            f"{url}notify/?{urlencode(query)}",
            {"email": email, "token": token},
            HTTP_ORIGIN="http://testserver",
        )

    def test_it_answers_inside_the_frame_without_cookies(self, client, embeddable):
        response = self.post(client, embeddable, "sam@example.com", parent=SHOP, lang="es")
        assert response.status_code == 200
        html = response.content.decode()
        assert 'class="embedded"' in html and 'class="brandbar"' not in html
        assert f'data-parent-origin="{SHOP}"' in html
        assert frame_ancestors(response) == SHOP
        assert "X-Frame-Options" not in response
        assert not response.cookies and not client.cookies
        assert subscribers() == [("sam@example.com", "es", SubscriberState.PENDING)]

    def test_a_verified_frame_stays_verified(self, client, embeddable):
        access = verification.embed_access_token(embeddable)
        response = self.post(client, embeddable, "sam@example.com", parent=SHOP, access=access)
        assert "Alex Morgan" in text_of(response)
        assert response["Cache-Control"] == "no-store"

    def test_its_errors_and_refusals_are_framed_too(self, client, embeddable):
        bad = self.post(client, embeddable, "nope", parent=SHOP)
        assert bad.status_code == 400 and frame_ancestors(bad) == SHOP
        forged = client.post(
            f"/embed/{embeddable.reference}/notify/?parent={SHOP}",
            {"email": "sam@example.com", "token": "forged"},
        )
        assert forged.status_code == 403 and frame_ancestors(forged) == SHOP


# -- The pages the emails link to ---------------------------------------------------------------


@pytest.fixture
def subscriber(shipment):
    notifications.sign_up(
        consignment=shipment, email="sam@example.com", language="de", client="198.51.100.1"
    )
    return shipment.email_subscribers.get()


def link(subscriber, purpose: str) -> str:
    return f"/notify/{purpose}/{notifications.token_for(subscriber, purpose)}/"


def state(subscriber) -> str:
    subscriber.refresh_from_db()
    return subscriber.state


class TestConfirming:
    def test_a_get_asks_in_the_subscribers_language_and_changes_nothing(
        self, client, subscriber, django_assert_num_queries
    ):
        with django_assert_num_queries(1):
            response = client.get(link(subscriber, "confirm"), HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        html = response.content.decode()
        assert '<html lang="de">' in html and response["Content-Language"] == "de"
        assert "E-Mail-Updates bestätigen" in text_of(response)
        assert re.search(r'<form class="subscription__form" method="post">\s*<button', html)
        assert "Harbour &amp; Pine" in html and 'href="/theme/v1/' in html  # the brand's page
        assert response["Cache-Control"] == "no-store"
        assert response["Referrer-Policy"] == "same-origin"  # never to another site
        assert 'name="robots" content="noindex, nofollow"' in html
        assert not response.cookies
        assert state(subscriber) == SubscriberState.PENDING

    def test_a_head_changes_nothing_either(self, client, subscriber):
        assert client.head(link(subscriber, "confirm")).status_code == 200
        assert state(subscriber) == SubscriberState.PENDING

    def test_the_button_confirms_without_a_cookie_and_links_to_the_page(self, subscriber, page_url):
        client = Client(enforce_csrf_checks=True)
        response = client.post(link(subscriber, "confirm"), HTTP_ORIGIN="http://testserver")
        assert response.status_code == 200
        assert state(subscriber) == SubscriberState.CONFIRMED
        assert "E-Mail-Updates sind eingeschaltet" in text_of(response)
        assert f'href="{page_url}?lang=de"' in response.content.decode()
        assert not response.cookies
        again = client.post(link(subscriber, "confirm"))
        assert "bereits eingeschaltet" in text_of(again)

    def test_a_post_from_another_site_is_refused(self, client, subscriber):
        response = client.post(link(subscriber, "confirm"), HTTP_ORIGIN="https://evil.example")
        assert response.status_code == 403
        assert state(subscriber) == SubscriberState.PENDING
        assert '<form class="subscription__form" method="post">' in response.content.decode()

    def test_after_unsubscribing_an_old_link_does_not_turn_it_back_on(self, client, subscriber):
        notifications.unsubscribe(subscriber)
        response = client.post(link(subscriber, "confirm"))
        assert response.status_code == 200
        assert state(subscriber) == SubscriberState.UNSUBSCRIBED
        assert "Sie haben sich abgemeldet" in text_of(response)

    def test_an_expired_link_is_a_clear_404(self, client, subscriber):
        url = link(subscriber, "confirm")
        with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=8)):
            response = client.post(url)
        assert response.status_code == 404
        assert "This link does not work" in text_of(response)
        assert "7 days" in text_of(response)
        assert state(subscriber) == SubscriberState.PENDING

    @pytest.mark.parametrize("method", ["get", "post"])
    @pytest.mark.parametrize(
        "token",
        [
            "nonsense",
            "x:y:z",
            "0" * 32 + ":1xYlGt:" + "A" * 43,
            "%00",
            "a" * 2000,
            "ünïcödé",
        ],
    )
    def test_a_forged_token_is_a_clear_404_never_a_500(self, client, subscriber, method, token):
        response = getattr(client, method)(f"/notify/confirm/{token}/")
        assert response.status_code == 404
        assert "This link does not work" in text_of(response)
        assert response["Cache-Control"] == "no-store"

    def test_an_unsubscribe_link_does_not_confirm(self, client, subscriber):
        token = notifications.token_for(subscriber, "unsubscribe")
        assert client.post(f"/notify/confirm/{token}/").status_code == 404
        assert state(subscriber) == SubscriberState.PENDING

    def test_a_deleted_subscribers_link_is_a_404(self, client, subscriber):
        url = link(subscriber, "confirm")
        subscriber.delete()
        assert client.get(url).status_code == 404


class TestUnsubscribing:
    @pytest.fixture
    def confirmed(self, subscriber):
        notifications.confirm(subscriber)
        return subscriber

    def test_a_get_asks_and_changes_nothing(self, client, confirmed):
        response = client.get(link(confirmed, "unsubscribe"))
        assert response.status_code == 200
        assert "Abmelden" in text_of(response)
        assert state(confirmed) == SubscriberState.CONFIRMED

    def test_rfc_8058_one_click_works_without_cookie_or_csrf_token(self, confirmed):
        OutboundEmail.objects.create(
            subscriber=confirmed, kind=EmailKind.UPDATE, state=EmailState.PENDING, due_at=NOW
        )
        client = Client(enforce_csrf_checks=True)  # a mail provider's server: no cookie at all
        response = client.post(
            link(confirmed, "unsubscribe"),
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
        assert state(confirmed) == SubscriberState.UNSUBSCRIBED
        assert not OutboundEmail.objects.filter(state=EmailState.PENDING).exists()
        assert "Sie sind abgemeldet" in text_of(response)

    def test_one_click_as_multipart_and_twice_is_fine(self, confirmed):
        client = Client(enforce_csrf_checks=True)
        for _ in range(2):
            response = client.post(
                link(confirmed, "unsubscribe"), {"List-Unsubscribe": "One-Click"}
            )
            assert response.status_code == 200
        assert state(confirmed) == SubscriberState.UNSUBSCRIBED

    def test_the_link_in_a_real_email_unsubscribes(self, client, confirmed, settings):
        settings.PUBLIC_URL = "https://track.example.com"
        email = OutboundEmail.objects.create(
            subscriber=confirmed, kind=EmailKind.UPDATE, state=EmailState.PENDING, due_at=NOW
        )
        composed = compose(email)
        path = composed.unsubscribe_url.removeprefix("https://track.example.com")
        assert f'href="{composed.unsubscribe_url}"' in composed.html
        assert client.post(path, HTTP_ORIGIN="https://mail.example").status_code == 200
        assert state(confirmed) == SubscriberState.UNSUBSCRIBED

    def test_the_confirmation_email_links_to_the_confirm_page(self, client, subscriber, settings):
        settings.PUBLIC_URL = "https://track.example.com"
        composed = compose(OutboundEmail.objects.get(kind=EmailKind.CONFIRM))
        [url] = set(
            re.findall(r"https://track\.example\.com(/notify/confirm/[^/\s\"]+/)", composed.html)
        )
        assert client.get(url).status_code == 200
        assert client.post(url).status_code == 200
        assert state(subscriber) == SubscriberState.CONFIRMED

    @pytest.mark.parametrize("token", ["nonsense", "0" * 32 + ":" + "A" * 43])
    def test_a_forged_link_is_a_404(self, client, confirmed, token):
        response = Client(enforce_csrf_checks=True).post(
            f"/notify/unsubscribe/{token}/",
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 404
        assert state(confirmed) == SubscriberState.CONFIRMED

    def test_a_confirm_link_does_not_unsubscribe(self, client, confirmed):
        token = notifications.token_for(confirmed, "confirm")
        assert client.post(f"/notify/unsubscribe/{token}/").status_code == 404

    def test_afterwards_the_link_says_it_is_done(self, client, confirmed):
        notifications.unsubscribe(confirmed)
        response = client.get(link(confirmed, "unsubscribe"))
        assert "Sie sind abgemeldet" in text_of(response)
        assert "<form" not in response.content.decode().split("<main", 1)[1]
