"""The pages the notification emails link to (design section 7.4): confirming email updates
and unsubscribing from them, in the subscriber's language and the brand's colours.

Each link names its subscriber by a signed token (services.notifications.token_for): the
token is the credential, so these pages need no login, no session and no cookie. A GET only
shows a button, because mail scanners and link previews fetch every link in an email; the
POST of that button (or, for unsubscribing, a mail client's RFC 8058 one-click POST) does it.
A forged, expired or stale token is a 404 that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tracking.models import EmailSubscriber, SubscriberState
from tracking.pages import links, present, theme, verification
from tracking.pages.icons import ICONS
from tracking.services import notifications

TEMPLATE = "tracking/subscription.html"


@dataclass(frozen=True, slots=True)
class SubscriptionPage:
    title: str
    message: str
    icon: SafeString
    tone: str  # "" (a question), "success" or "warning"
    brand: present.BrandView | None
    button: str = ""  # the POST's button, when there is something to do
    note: str = ""  # small print beneath the button
    link: str = ""
    link_text: str = ""


# Why csrf_exempt, on both views: the token in the URL is the credential, and Django's check
# would need a CSRF cookie, which the GET would have to set (the public pages set none) and a
# mail client's one-click POST never has. A forged cross-site POST needs the token, and with
# it could do no more than the link's owner can.


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the confirmation email: GET asks, POST turns the updates on."""
    subscriber = notifications.subscriber_for(token, "confirm")
    if subscriber is None:
        return _not_found(
            request,
            _(
                "This confirmation link is incomplete or has expired (links to confirm work "
                "for 7 days). To get email updates, enter your email address on the parcel's "
                "tracking page again."
            ),
        )
    with translation.override(subscriber.language):
        if request.method == "POST":
            # Consent is given on our own page: a POST another site makes is refused.
            origin = request.headers.get("Origin")
            if not verification.origin_allowed(origin, verification.allowed_origins(request)):
                return _answer(request, subscriber, _confirm_again(subscriber), status=403)
            changed = notifications.confirm(subscriber)
        else:
            changed = False
        return _answer(request, subscriber, _confirm_page(subscriber, changed))


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The footer link and the List-Unsubscribe header of every update: GET asks, POST
    unsubscribes. A mail client's RFC 8058 one-click POST (body List-Unsubscribe=One-Click,
    no cookie, from anywhere) is that POST, so no Origin is checked here."""
    subscriber = notifications.subscriber_for(token, "unsubscribe")
    if subscriber is None:
        return _not_found(
            request,
            _(
                "This unsubscribe link is incomplete. Use the Unsubscribe link in the latest "
                "email about your parcel, or ask the shop that sent it."
            ),
        )
    with translation.override(subscriber.language):
        if request.method == "POST":
            notifications.unsubscribe(subscriber)
        return _answer(request, subscriber, _unsubscribe_page(subscriber))


# -- What each page says ----------------------------------------------------------------------


def _names(subscriber: EmailSubscriber) -> dict:
    consignment = subscriber.consignment
    return {"brand": consignment.brand.name, "reference": consignment.reference}


def _confirm_page(subscriber: EmailSubscriber, changed: bool) -> SubscriptionPage:
    brand = _brand(subscriber)
    names = _names(subscriber)
    if subscriber.state == SubscriberState.CONFIRMED:
        return SubscriptionPage(
            title=_("Email updates are on") if changed else _("Email updates are already on"),
            message=_(
                "%(brand)s will email you when parcel %(reference)s is dispatched, out for "
                "delivery or delivered, and if there is a delay or a problem. Every email has a "
                "link to unsubscribe."
            )
            % names,
            icon=ICONS["check"],
            tone="success",
            brand=brand,
            **_tracking_link(subscriber),
        )
    if subscriber.state == SubscriberState.UNSUBSCRIBED:
        return SubscriptionPage(
            title=_("You unsubscribed"),
            message=_(
                "You unsubscribed from emails about parcel %(reference)s. To hear about it "
                "again, enter your email address on its tracking page."
            )
            % names,
            icon=ICONS["info"],
            tone="",
            brand=brand,
            **_tracking_link(subscriber),
        )
    return SubscriptionPage(
        title=_("Confirm email updates"),
        message=_(
            "Confirm that you want %(brand)s to email you about parcel %(reference)s: when it "
            "is dispatched, out for delivery or delivered, and if there is a delay or a problem."
        )
        % names,
        icon=ICONS["mail"],
        tone="",
        brand=brand,
        button=_("Confirm"),
        note=_("If you did not ask for this, close this page: nothing more will be sent."),
    )


def _confirm_again(subscriber: EmailSubscriber) -> SubscriptionPage:
    return SubscriptionPage(
        title=_("Please try again"),
        message=_(
            "This confirmation did not come from this page, so nothing was changed. Press "
            "Confirm below to turn on email updates."
        ),
        icon=ICONS["alert"],
        tone="warning",
        brand=_brand(subscriber),
        button=_("Confirm"),
    )


def _unsubscribe_page(subscriber: EmailSubscriber) -> SubscriptionPage:
    brand = _brand(subscriber)
    names = _names(subscriber)
    if subscriber.state == SubscriberState.UNSUBSCRIBED:
        return SubscriptionPage(
            title=_("You are unsubscribed"),
            message=_(
                "%(brand)s will send no more emails about parcel %(reference)s to this address."
            )
            % names,
            icon=ICONS["check"],
            tone="success",
            brand=brand,
            **_tracking_link(subscriber),
        )
    return SubscriptionPage(
        title=_("Unsubscribe from email updates?"),
        message=_(
            "You will get no more emails from %(brand)s about parcel %(reference)s. You can "
            "still follow it on its tracking page."
        )
        % names,
        icon=ICONS["mail"],
        tone="",
        brand=brand,
        button=_("Unsubscribe"),
    )


def _brand(subscriber: EmailSubscriber) -> present.BrandView:
    brand = subscriber.consignment.brand
    colours = theme.slug(brand.primary_colour, brand.accent_colour)
    url = reverse("theme", kwargs={"version": theme.THEME_VERSION, "colours": colours})
    return present.brand_view(brand, url)


def _tracking_link(subscriber: EmailSubscriber) -> dict:
    path = reverse("consignment", kwargs={"reference": subscriber.consignment.reference})
    return {
        "link": links.with_language(path, subscriber.language),
        "link_text": _("See the tracking page"),
    }


# -- Answers ------------------------------------------------------------------------------------


def _answer(
    request: HttpRequest, subscriber: EmailSubscriber, page: SubscriptionPage, *, status=200
) -> HttpResponse:
    response = render(request, TEMPLATE, {"page": page, "icons": ICONS}, status=status)
    return _private(response, subscriber.language)


def _not_found(request: HttpRequest, message: str) -> HttpResponse:
    """A forged, expired or stale link, in the visitor's language (no subscriber to ask)."""
    page = SubscriptionPage(
        title=_("This link does not work"),
        message=message,
        icon=ICONS["info"],
        tone="",
        brand=None,
        link=reverse("home"),
        link_text=_("Track a parcel"),
    )
    response = render(request, TEMPLATE, {"page": page, "icons": ICONS}, status=404)
    return _private(response, translation.get_language())


def _private(response: HttpResponse, language: str) -> HttpResponse:
    # The URL holds the credential, so no cache keeps the page. (The site's Referrer-Policy,
    # same-origin, already keeps it from other sites; no-referrer would also make the browser
    # send "Origin: null" with the button's POST, which the confirmation refuses.)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Content-Language"] = language
    return response
