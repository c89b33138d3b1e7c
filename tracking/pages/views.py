"""The customer's pages: the lookup form, the tracking page and its live region (on this site
and inside a brand's iframe), postcode verification, and the brand's colour stylesheet.

Each view loads through tracking.access, asks `verification` whether the visitor proved the
postcode, describes what it is about to send as a `caching.Representation` (its ETag and its
cache key), and renders what `present` (or, for the lookup form, `lookup`) prepared. The
POST forms (lookup, postcode, "Email me updates") are exempt from Django's cookie-based CSRF
check on purpose; `verification` explains what protects them instead. The pages the emails
link to are tracking.pages.subscriptions.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from csp.constants import NONE
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseStopPolling

from tracking import access, ratelimit
from tracking.fields import CONSIGNMENT_REFERENCE, REFERENCES
from tracking.models import Brand
from tracking.pages import links, present, theme, verification
from tracking.pages.caching import Representation, unless_fresh
from tracking.pages.icons import ICONS
from tracking.pages.lookup import lookup_page
from tracking.pages.verification import Outcome
from tracking.services import notifications
from tracking.timeline import Timeline

LOOKUP_SCOPE = "lookup-client"
PAGE_TEMPLATE = "tracking/consignment.html"
EMBED_TEMPLATE = "tracking/embed.html"
LIVE_TEMPLATE = "tracking/consignment.html#live"
NOTIFY_TEMPLATE = "tracking/consignment.html#notify"
SUPPORTED = {code for code, _name in settings.LANGUAGES}


@dataclass(frozen=True)
class Surface:
    """Where the page is shown: on this site, or inside a brand's iframe (design section 4)."""

    embedded: bool = False
    parent: str = ""  # the page framing us, checked against the brand's embed origins
    access: str = ""  # a valid embed access token (the iframe's stand-in for the session)

    @property
    def name(self) -> str:
        return f"embed:{self.parent}" if self.embedded else "page"

    @property
    def route(self) -> str:
        return "embed" if self.embedded else "consignment"

    @property
    def template(self) -> str:
        return EMBED_TEMPLATE if self.embedded else PAGE_TEMPLATE


SITE = Surface()


# -- Views -----------------------------------------------------------------------------------


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return _lookup(request)


@csrf_exempt  # token + Origin instead of the CSRF cookie: see pages.verification
@require_http_methods(["GET", "HEAD", "POST"])
def lookup(request: HttpRequest) -> HttpResponse:
    """GET ?reference= redirects to the page; POST is the home form (design section 7.1): the
    EC or EP reference alone (with the postcode, verified before redirecting), or a carrier's
    tracking number or the shop's order number with the delivery postcode, which finds the
    page but never verifies it."""
    if limited := _count_lookup(request):
        return limited
    posted = request.method == "POST"
    data = request.POST if posted else request.GET
    typed = data.get("reference", "")
    postcode = data.get("postcode", "") if posted else ""
    if posted and not _form_accepted(request, verification.LOOKUP_FORM):
        return _lookup(
            request,
            status=403,
            reference=typed,
            error=_(
                "This form was open for too long or did not come from this site, so nothing "
                "was checked. Please try again."
            ),
        )
    if not isinstance(typed, str) or not typed.strip():
        return _lookup(
            request,
            status=400,
            error=_("Enter your tracking reference, tracking number or order number."),
        )
    timeline = _find(request, typed, packages=True, answer=False)
    if timeline is None:
        # An order number may look like a reference: with a postcode, try it as a number too.
        if not posted or (_tidy_reference(typed) and not postcode.strip()):
            return _unknown(request, typed)
        return _find_by_number(request, typed, postcode)
    if postcode.strip():
        result = _check_postcode(request, timeline, postcode, SITE)
        if result.outcome is Outcome.LIMITED:
            _language_for(request, timeline.brand)
            page = _page_url(request, timeline)
            return _too_many(request, result.retry_after, timeline.brand, page)
        if result.outcome is Outcome.WRONG:
            return _lookup(
                request,
                status=400,
                reference=typed,
                postcode=postcode,
                postcode_error=_(
                    "That postcode does not match this parcel. Check it and try again, or leave "
                    "it empty to track the parcel without the delivery details."
                ),
            )
    if posted:
        return _see_other(_page_url(request, timeline))
    return redirect(_page_url(request, timeline))


def _find_by_number(request: HttpRequest, typed: str, postcode: str) -> HttpResponse:
    """A carrier's tracking number or the shop's order number, with the delivery postcode:
    the newest consignment it names whose postcode this is (a number may be on several
    brands' consignments). Found, never verified; a wrong postcode answers exactly like an
    unknown number."""
    if not postcode.strip():
        return _lookup(
            request,
            status=400,
            reference=typed,
            postcode_error=_(
                "To find a parcel by the carrier's tracking number or your order number, also "
                "enter the delivery postcode."
            ),
        )
    found = verification.find_by_postcode(
        ratelimit.client_address(request), access.consignments_by_number(typed), postcode
    )
    if found.outcome is Outcome.LIMITED:
        response = _problem(
            request,
            status=429,
            title=_("Too many attempts"),
            message=_(
                "For your security, finding parcels by tracking number or order number is "
                "paused for a while. Please try again later, or use the tracking reference from "
                "your shipping email."
            ),
        )
        response["Retry-After"] = str(found.retry_after)
        return response
    if found.consignment is None:
        return _lookup(
            request,
            status=404,
            reference=typed,
            postcode=postcode,
            error=_(
                "We can't find a parcel with that number and postcode. Check both against your "
                "order confirmation or the carrier's message, or use the tracking reference "
                "from your shipping email."
            ),
            postcode_invalid=True,
        )
    path = reverse("consignment", kwargs={"reference": found.consignment.reference})
    return _see_other(links.with_language(path, _url_language(request)))


@require_safe
@vary_on_headers("HX-Request")
def consignment(request: HttpRequest, reference: str) -> HttpResponse:
    """The tracking page, or (for htmx's poll) its live region, answered 304 while nothing
    changed and 286 once nothing more will change."""
    return _tracking(request, reference, embedded=False)


@require_safe
@vary_on_headers("HX-Request")
def embed(request: HttpRequest, reference: str) -> HttpResponse:
    """The same page without the site's chrome, for a brand's iframe (embed.js)."""
    return _tracking(request, reference, embedded=True)


@csrf_exempt  # token + Origin instead of the CSRF cookie: see pages.verification
@require_http_methods(["GET", "HEAD", "POST"])
def verify(request: HttpRequest, reference: str) -> HttpResponse:
    """The postcode form: right → the page shows the private details for this session."""
    return _verify(request, reference, embedded=False)


@csrf_exempt  # inside a third-party iframe there is no cookie to check anyway
@require_http_methods(["GET", "HEAD", "POST"])
def embed_verify(request: HttpRequest, reference: str) -> HttpResponse:
    """The postcode form inside an iframe: right → back to the embed page with an access
    token in its URL instead of a session."""
    return _verify(request, reference, embedded=True)


@csrf_exempt  # token + Origin instead of the CSRF cookie: see pages.verification
@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def notify(request: HttpRequest, reference: str) -> HttpResponse:
    """The "Email me updates" form: a confirmation email, then updates (design section 7.4)."""
    return _notify(request, reference, embedded=False)


@csrf_exempt  # inside a third-party iframe there is no cookie to check anyway
@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def embed_notify(request: HttpRequest, reference: str) -> HttpResponse:
    """The same form inside an iframe: the answer keeps the parent and the access token."""
    return _notify(request, reference, embedded=True)


@require_safe
def theme_css(request: HttpRequest, version: str, colours: str) -> HttpResponse:
    """A brand's colours as CSS variables. The URL names the colours, so it never changes
    meaning and is cached for a year; no query is needed."""
    if version != theme.THEME_VERSION:
        raise Http404
    primary, accent = colours.split("-")
    response = HttpResponse(
        theme.theme_css(f"#{primary}", f"#{accent}"), content_type="text/css; charset=utf-8"
    )
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's own CSRF failures (the back office): a friendly page, not the debug one."""
    return _problem(
        request,
        status=403,
        title=_("Please try again"),
        message=_(
            "This form could not be accepted because it was open for too long or came from "
            "another site. Go back, reload the page and try again."
        ),
    )


# -- The tracking page ---------------------------------------------------------------------


def _tracking(request: HttpRequest, reference: str, *, embedded: bool) -> HttpResponse:
    polling = bool(request.htmx)
    if not polling and (limited := _count_lookup(request)):
        return limited
    timeline = _canonical(request, reference, embedded=embedded, counted=not polling)
    if isinstance(timeline, HttpResponse):
        return timeline
    language = _language_for(request, timeline.brand)
    surface = _embed_surface(request, timeline) if embedded else SITE
    verified = _verified(request, timeline, surface)
    partial = polling and not request.htmx.history_restore_request
    shown = _represent(request, timeline, language, surface, verified=verified, partial=partial)
    modified = timeline.consignment.modified_utc.timestamp()
    if partial and timeline.is_final:
        # Delivered or cancelled: send the final content with 286 so htmx stops polling.
        response = HttpResponseStopPolling(_body(request, timeline, shown, surface))
    # Decide 304 before touching the legs: the head (one query) is all a validator needs.
    elif (response := unless_fresh(request, shown.etag, int(modified))) is None:
        response = HttpResponse(_body(request, timeline, shown, surface))
    response["ETag"] = shown.etag
    response["Last-Modified"] = http_date(modified)
    response["Cache-Control"] = "private, no-store" if verified else "no-cache"
    return _frame(response, timeline.brand) if embedded else response


def _canonical(
    request: HttpRequest, reference: str, *, embedded: bool, counted: bool
) -> Timeline | HttpResponse:
    """The consignment at its canonical address: a typed variant is redirected there."""
    canonical = _tidy_reference(reference)
    if canonical is None or not canonical.startswith("EC-"):
        return _unknown(request, reference, counted=counted)
    if canonical != reference:
        query = request.META.get("QUERY_STRING", "")
        target = reverse("embed" if embedded else "consignment", kwargs={"reference": canonical})
        return redirect(f"{target}?{query}" if query else target, permanent=True)
    try:
        return access.timeline_for_reference(canonical)
    except access.NotFound:
        return _unknown(request, reference, counted=counted)


def _represent(
    request: HttpRequest,
    timeline: Timeline,
    language: str,
    surface: Surface,
    *,
    verified: bool,
    partial: bool,
) -> Representation:
    return Representation(
        version=timeline.version,
        brand_revision=timeline.brand.revision,
        surface=surface.name,
        language=language,
        lang_in_url=_lang_in_url(request),
        verified=verified,
        partial=partial,
        window=verification.token_window(),
        today=dt.datetime.now(timeline.brand.zone).date(),
        poll=present.poll_seconds(),
    )


def _body(
    request: HttpRequest, timeline: Timeline, shown: Representation, surface: Surface
) -> bytes:
    """The rendered page or live region. The anonymous tier is the same for everyone who is
    shown the same representation, so it is rendered once per representation and kept with
    the timeline's other bodies (Timeline.cached: the version is in the key, so it is never
    stale). Pages with the recipient's details are never kept."""

    def render() -> bytes:
        template = LIVE_TEMPLATE if shown.partial else surface.template
        context = _context(request, timeline, shown, surface)
        return render_to_string(template, context, request).encode()

    return render() if shown.verified else timeline.cached(shown.key, render)


def _context(
    request: HttpRequest,
    timeline: Timeline,
    shown: Representation,
    surface: Surface,
    *,
    postcode: str = "",
    postcode_error: str = "",
    notify: present.NotifyAnswer = present.NO_ANSWER,
) -> dict:
    consignment = timeline.consignment
    page = present.tracking_page(
        timeline,
        links=_links(timeline, surface),
        verified=shown.verified,
        language=shown.language,
        lang_in_url=shown.lang_in_url,
        today=shown.today,
        live_etag=shown.as_live().etag,
        postcode=postcode,
        postcode_error=postcode_error,
        form_token="" if shown.verified else verification.form_token(str(consignment.pk)),
        notify_token=verification.form_token(verification.notify_binding(consignment)),
        notify=notify,
        embed_parent=surface.parent if surface.embedded else None,
        embed_access=surface.access,
    )
    return {"page": page}


def _links(timeline: Timeline, surface: Surface) -> links.Links:
    kwargs = {"reference": timeline.consignment.reference}
    return links.Links(
        home=reverse("home"),
        page=reverse(surface.route, kwargs=kwargs),
        verify=reverse("embed-verify" if surface.embedded else "verify", kwargs=kwargs),
        notify=reverse("embed-notify" if surface.embedded else "notify", kwargs=kwargs),
        site_page=reverse("consignment", kwargs=kwargs),
        theme=_theme_url(timeline.brand),
    )


def _theme_url(brand: Brand) -> str:
    colours = theme.slug(brand.primary_colour, brand.accent_colour)
    return reverse("theme", kwargs={"version": theme.THEME_VERSION, "colours": colours})


def _embed_surface(request: HttpRequest, timeline: Timeline) -> Surface:
    token = request.GET.get("access", "")
    return Surface(
        embedded=True,
        parent=timeline.brand.embedding_origin(request.GET.get("parent", "")) or "",
        access=token if verification.embed_access_valid(token, timeline.consignment) else "",
    )


def _verified(request: HttpRequest, timeline: Timeline, surface: Surface) -> bool:
    """Inside an iframe the access token is the proof; on the site, the session."""
    if surface.embedded:
        return bool(surface.access)
    return verification.is_verified(request.session, timeline.consignment)


def _frame(response: HttpResponse, brand: Brand) -> HttpResponse:
    """Let exactly the brand's embed origins frame this response; nobody, without any."""
    origins = brand.embed_origin_list
    response._csp_replace = {"frame-ancestors": origins or [NONE]}
    response.xframe_options_exempt = bool(origins)
    return response


# -- Postcode verification -------------------------------------------------------------------


def _verify(request: HttpRequest, reference: str, *, embedded: bool) -> HttpResponse:
    timeline = _find(request, reference)
    if isinstance(timeline, HttpResponse):
        return timeline
    language = _language_for(request, timeline.brand)
    surface = _embed_surface(request, timeline) if embedded else SITE
    # A right postcode makes a new access token: the old one is not carried back.
    back = _back_to_page(request, timeline, surface, language, access="")
    response = _verify_response(request, timeline, surface, language, back)
    return _frame(response, timeline.brand) if embedded else response


def _back_to_page(
    request: HttpRequest, timeline: Timeline, surface: Surface, language: str, *, access: str
) -> str:
    """The tracking page (or embed) a form posted from, in the language it was read in."""
    return links.with_query(
        reverse(surface.route, kwargs={"reference": timeline.consignment.reference}),
        lang=language if _lang_in_url(request) else None,
        parent=surface.parent,
        access=access,
    )


def _page_again(
    request: HttpRequest, timeline: Timeline, language: str, surface: Surface, **form
) -> dict:
    """The context of the whole page again, after a form's post, with that form's answer."""
    verified = _verified(request, timeline, surface)
    shown = _represent(request, timeline, language, surface, verified=verified, partial=False)
    return _context(request, timeline, shown, surface, **form)


def _verify_response(
    request: HttpRequest, timeline: Timeline, surface: Surface, language: str, back: str
) -> HttpResponse:
    consignment = timeline.consignment
    if request.method != "POST":
        return redirect(back)
    if not _form_accepted(request, str(consignment.pk)):
        return _problem(
            request,
            status=403,
            title=_("Please try again"),
            message=_(
                "The postcode form was open for too long or did not come from this page, so "
                "nothing was checked. Go back to the tracking page and enter the postcode again."
            ),
            link=back,
            link_text=_("Back to tracking"),
            brand=timeline.brand,
        )
    postcode = request.POST.get("postcode", "")
    result = _check_postcode(request, timeline, postcode, surface)
    if result.outcome is Outcome.VERIFIED:
        if surface.embedded:
            token = verification.embed_access_token(consignment)
            separator = "&" if "?" in back else "?"
            return _see_other(f"{back}{separator}{urlencode({'access': token})}")
        return _see_other(back)
    if result.outcome is Outcome.LIMITED:
        return _too_many(request, result.retry_after, timeline.brand, back)
    error = (
        _("Enter the postcode the parcel is being delivered to.")
        if result.outcome is Outcome.BLANK
        else _("That postcode does not match this parcel. Check it and try again.")
    )
    # The page again, with the message beside the field.
    context = _page_again(
        request, timeline, language, surface, postcode=postcode, postcode_error=error
    )
    response = render(request, surface.template, context, status=400)
    response["Cache-Control"] = "no-store"
    return response


def _form_accepted(request: HttpRequest, binding: str) -> bool:
    return verification.form_accepted(
        origin=request.headers.get("Origin"),
        token=request.POST.get("token"),
        binding=binding,
        allowed=verification.allowed_origins(request),
    )


def _check_postcode(
    request: HttpRequest, timeline: Timeline, postcode: str, surface: Surface
) -> verification.Verification:
    """On the site a right postcode is remembered in the session; in an iframe, which has
    none, the caller hands out an access token instead."""
    return verification.check_postcode(
        None if surface.embedded else request.session,
        ratelimit.client_address(request),
        timeline.consignment,
        postcode,
    )


# -- "Email me updates" ------------------------------------------------------------------------


def _notify(request: HttpRequest, reference: str, *, embedded: bool) -> HttpResponse:
    timeline = _find(request, reference)
    if isinstance(timeline, HttpResponse):
        return timeline
    language = _language_for(request, timeline.brand)
    surface = _embed_surface(request, timeline) if embedded else SITE
    back = _back_to_page(request, timeline, surface, language, access=surface.access)
    if request.method != "POST":
        response = redirect(back)
    else:
        response = _notify_response(request, timeline, surface, language, back)
        response["Cache-Control"] = "no-store"  # it may hold the address typed
    return _frame(response, timeline.brand) if embedded else response


def _notify_response(
    request: HttpRequest, timeline: Timeline, surface: Surface, language: str, back: str
) -> HttpResponse:
    """Sign up and answer: without JavaScript the page again, scrolled to the form (its
    action ends in #notify), with the field's error (400), "too many" (429) or "check your
    inbox" (200); for htmx the form's partial, always 200, since htmx swaps no 4xx. An
    accepted address gets the same answer whether or not it was already signed up."""
    if _form_accepted(request, verification.notify_binding(timeline.consignment)):
        status, answer = _sign_up(request, timeline, language)
    elif request.htmx:  # a fresh form (and token) with the notice
        status, answer = (
            403,
            present.NotifyAnswer(
                notice=_("The form was open for too long, so no email was sent. Please try again."),
                notice_tone="warning",
            ),
        )
    else:
        return _problem(
            request,
            status=403,
            title=_("Please try again"),
            message=_(
                "The form was open for too long or did not come from this page, so no email "
                "was sent. Go back to the tracking page and enter your email address again."
            ),
            link=back,
            link_text=_("Back to tracking"),
            brand=timeline.brand,
        )
    context = _page_again(request, timeline, language, surface, notify=answer)
    if request.htmx:
        return render(request, NOTIFY_TEMPLATE, context)
    return render(request, surface.template, context, status=status)


def _sign_up(
    request: HttpRequest, timeline: Timeline, language: str
) -> tuple[int, present.NotifyAnswer]:
    """What the sign-up did, in the page's words, with the status a page answer gets."""
    typed = request.POST.get("email", "").strip()
    shown = typed[:254]  # what is typed back into the field: never more than an address
    if not typed:
        return 400, present.NotifyAnswer(error=_("Enter your email address."))
    try:
        outcome = notifications.sign_up(
            consignment=timeline.consignment,
            email=typed,
            language=language,
            client=ratelimit.client_address(request),
        )
    except ValidationError:
        return 400, present.NotifyAnswer(
            value=shown, error=_("Enter an email address in the form name@example.com.")
        )
    if outcome == notifications.SignUp.LIMITED:
        return 429, present.NotifyAnswer(
            value=shown,
            notice=_("Too many requests for email updates. Please try again later."),
            notice_detail=_(
                "To prevent misuse, sign-ups are paused for a while. You can still follow the "
                "parcel on this page."
            ),
            notice_tone="warning",
        )
    return 200, present.NotifyAnswer(
        notice=_("Check your inbox: we sent a link to confirm."),
        notice_detail=_(
            "Open the link in the email to %(email)s to start your updates. Until you do, we "
            "send nothing else."
        )
        % {"email": shown},
        notice_tone="success",
        sent=True,
    )


# -- The lookup form and the answers without a consignment -----------------------------------


def _lang_in_url(request: HttpRequest) -> bool:
    return bool(getattr(request, "language_from_url", False))


def _language_for(request: HttpRequest, brand: Brand | None) -> str:
    """?lang= first, then Accept-Language (LanguageMiddleware); a browser that sent no
    Accept-Language at all gets the brand's default language."""
    if (
        brand is not None
        and not _lang_in_url(request)
        and not getattr(request, "language_from_header", True)
        and brand.default_language in SUPPORTED
    ):
        translation.activate(brand.default_language)
        request.LANGUAGE_CODE = brand.default_language
    return translation.get_language()


def _url_language(request: HttpRequest) -> str | None:
    """The language to keep in links: only one the URL chose."""
    return translation.get_language() if _lang_in_url(request) else None


def _tidy_reference(raw: str) -> str | None:
    """A typed consignment (EC) or package (EP) reference in canonical form: case, spaces and
    missing dashes forgiven; None when it is neither."""
    if not isinstance(raw, str) or len(raw) > 100:
        return None
    if CONSIGNMENT_REFERENCE.match(raw):
        return raw  # a followed link or a poll: already canonical
    compact = re.sub(r"[\s\-]+", "", raw).upper()
    if re.fullmatch(r"E[CP][0-9A-Z]{9}", compact):
        canonical = f"{compact[:2]}-{compact[2:5]}-{compact[5:8]}-{compact[8:]}"
        return canonical if REFERENCES[compact[:2]].match(canonical) else None
    return None


def _page_url(request: HttpRequest, timeline: Timeline) -> str:
    path = reverse("consignment", kwargs={"reference": timeline.consignment.reference})
    return links.with_language(path, _url_language(request))


def _see_other(url: str) -> HttpResponse:
    """After a POST: the browser follows with a GET."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _find(
    request: HttpRequest,
    typed: str,
    *,
    counted: bool = True,
    packages: bool = False,
    answer: bool = True,
) -> Timeline | HttpResponse | None:
    """The consignment a visitor typed (its EC reference or, with `packages`, one of its
    packages' EP references) or followed a link to, or else the page saying there is none
    (None when not `answer`: the caller has more to try)."""
    reference = _tidy_reference(typed) or ""
    try:
        if packages and reference.startswith("EP-"):
            return access.timeline_for_package_reference(reference)
        return access.timeline_for_reference(reference)
    except access.NotFound:
        return _unknown(request, typed, counted=counted) if answer else None


def _unknown(request: HttpRequest, typed: str, *, counted: bool = True) -> HttpResponse:
    """No such parcel: 404 with the form. A miss always counts against the lookup limit."""
    if not counted and (limited := _count_lookup(request)):
        return limited
    return _lookup(
        request,
        status=404,
        reference=typed,
        error=_(
            "We can't find a parcel with that reference. Check it against your shipping email: "
            "it looks like EC-ABC-DEF-GHJ."
        ),
    )


def _count_lookup(request: HttpRequest) -> HttpResponse | None:
    """Count a request that looks a parcel up against the client's RATE_LIMIT_LOOKUP; once it
    is over, a friendly 429. Full page loads, lookups and misses count; polling a parcel the
    visitor already has open does not, so a page left open never runs into the limit."""
    decision = ratelimit.hit(
        LOOKUP_SCOPE, ratelimit.client_address(request), settings.RATE_LIMIT_LOOKUP
    )
    if decision.allowed:
        return None
    response = _problem(
        request,
        status=429,
        title=_("Too many requests"),
        message=_(
            "You have looked up a lot of parcels in a short time. Please wait a minute and "
            "try again."
        ),
    )
    response["Retry-After"] = str(decision.retry_after)
    return response


def _lookup(
    request: HttpRequest,
    *,
    status: int = 200,
    reference: str = "",
    postcode: str = "",
    error: str = "",
    postcode_error: str = "",
    postcode_invalid: bool = False,
) -> HttpResponse:
    page = lookup_page(
        links=links.Links(home=reverse("home"), lookup=reverse("lookup")),
        language=translation.get_language(),
        lang_in_url=_lang_in_url(request),
        token=verification.form_token(verification.LOOKUP_FORM),
        reference=reference,
        postcode=postcode,
        error=error,
        postcode_error=postcode_error,
        postcode_invalid=postcode_invalid,
    )
    response = render(request, "tracking/lookup.html", {"page": page}, status=status)
    response["Cache-Control"] = "no-cache" if status == 200 else "no-store"
    return response


def _problem(
    request: HttpRequest,
    *,
    status: int,
    title: str,
    message: str,
    link: str = "",
    link_text: str = "",
    brand: Brand | None = None,
) -> HttpResponse:
    context = {
        "title": title,
        "message": message,
        "link": link or links.with_language(reverse("home"), _url_language(request)),
        "link_text": link_text or _("Track a parcel"),
        "brand": present.brand_view(brand, _theme_url(brand)) if brand else None,
        "icons": ICONS,
    }
    response = render(request, "tracking/problem.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _too_many(
    request: HttpRequest, retry_after: int, brand: Brand | None, link: str
) -> HttpResponse:
    minutes = max(1, -(-retry_after // 60))
    response = _problem(
        request,
        status=429,
        title=_("Too many attempts"),
        message=ngettext(
            "For your security, postcode checks for this parcel are paused. Please try again "
            "in about %(minutes)d minute. You can still follow the parcel without the postcode.",
            "For your security, postcode checks for this parcel are paused. Please try again "
            "in about %(minutes)d minutes. You can still follow the parcel without the postcode.",
            minutes,
        )
        % {"minutes": minutes},
        link=link,
        link_text=_("Back to tracking"),
        brand=brand,
    )
    response["Retry-After"] = str(retry_after)
    return response
