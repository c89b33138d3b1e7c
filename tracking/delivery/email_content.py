"""What a notification email says, in the subscriber's language: the brand, the status in the
customer's words, the latest event, the expected day, a link to the page and one to
unsubscribe (design section 7.4). Rendered when it is sent, from the timeline the page reads,
so an update that gathered several changes tells how things stand now.

The HTML part is built for mail clients: tables and inline styles, no external fonts, images
only the brand's logo, no scripts; the plain-text part says the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from tracking import status as rules
from tracking import wording
from tracking.models import EmailKind, EmailSubscriber, OutboundEmail
from tracking.services import notifications
from tracking.timeline import Timeline


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str
    unsubscribe_url: str


def public_url(path: str) -> str:
    return f"{settings.PUBLIC_URL}{path}"


def safe_colour(value: str, fallback: str) -> str:
    """A brand colour as stored (#rrggbb) or the fallback: nothing else reaches a style."""
    return value if len(value) == 7 and value.startswith("#") else fallback


def logo_src(logo_url: str) -> str:
    if logo_url.startswith(("http://", "https://")):
        return logo_url
    return public_url(logo_url) if logo_url.startswith("/static/") else ""


# What a preview of each trigger shows (as_if): the status it reaches and the warning it
# brings (Warning, and the problem status the advice is about).
AS_IF = {
    "dispatched": (rules.Status.DISPATCHED, rules.Warning.NONE, None),
    "out_for_delivery": (rules.Status.OUT_FOR_DELIVERY, rules.Warning.NONE, None),
    "delivered": (rules.Status.DELIVERED, rules.Warning.NONE, None),
    "attempted": (
        rules.Status.ATTEMPTED_DELIVERY,
        rules.Warning.PROBLEM,
        rules.Status.ATTEMPTED_DELIVERY,
    ),
    "exception": (rules.Status.EXCEPTION, rules.Warning.PROBLEM, rules.Status.EXCEPTION),
    "delay": (rules.Status.IN_TRANSIT, rules.Warning.DELAY, None),
}


def compose(
    email: OutboundEmail,
    *,
    now: dt.datetime | None = None,
    as_if: str | None = None,
    timeline: Timeline | None = None,
) -> Composed:
    """The email as it would be sent now. `as_if` (a trigger, for the back office's previews)
    shows the status and warning that trigger brings instead of the consignment's own;
    `timeline` saves loading it again when previews compose many emails of one consignment."""
    subscriber = email.subscriber
    with translation.override(subscriber.language):
        context = _context(subscriber, email, now or timezone.now(), as_if, timeline)
        if email.kind == EmailKind.CONFIRM:
            subject = _("Confirm email updates for your parcel from %(brand)s") % {
                "brand": context["brand_name"]
            }
            name = "confirm"
        else:
            subject = _("%(brand)s: %(status)s") % {
                "brand": context["brand_name"],
                "status": context["headline"],
            }
            name = "update"
        context["subject"] = subject
        text = render_to_string(f"emails/{name}.txt", context)
        html = render_to_string(f"emails/{name}.html", context)
    return Composed(subject, text, html, context["unsubscribe_url"])


def _context(subscriber: EmailSubscriber, email, now, as_if, timeline) -> dict:
    consignment = subscriber.consignment
    brand = consignment.brand
    timeline = timeline or Timeline.find(reference=consignment.reference)
    progresses = [pt.progress for pt in timeline.by_package] if timeline else []
    progress = rules.combined_progress(progresses, consignment.status)
    status = rules.Status(consignment.status)
    latest = progress.latest.event if progress.latest is not None else None
    warning, problem = progress.warning, progress.problem_status
    if as_if is not None:
        status, warning, problem = AS_IF[as_if]
    if status == rules.Status.UNKNOWN:
        headline = _("On its way") if latest else _("Awaiting the first update")
    else:
        headline = rules.status_label(status)
    today = now.astimezone(brand.zone).date()
    latest_view = None
    if latest is not None:
        words = wording.customer_text(
            latest.code, today=latest.occurred_at.astimezone(brand.zone).date() == today
        )
        local = latest.occurred_at.astimezone(brand.zone)
        latest_view = {
            "title": words or latest.description or latest.code,
            "detail": latest.description if words and latest.description != words else "",
            "location": latest.location,
            "when": date_format(local, "j M Y, H:i") + f" {local.tzname()}",
        }
    expected = consignment.expected_delivery_date
    show_expected = (
        expected is not None
        and warning is rules.Warning.NONE
        and status not in (rules.Status.DELIVERED, rules.Status.CANCELLED)
        and expected >= today
    )
    lang = subscriber.language
    page = public_url(f"/track/{consignment.reference}/?lang={lang}")
    unsubscribe = public_url(
        f"/notify/unsubscribe/{notifications.token_for(subscriber, 'unsubscribe')}/"
    )
    return {
        "language": lang,
        "brand_name": brand.name,
        "logo_src": logo_src(brand.logo_url),
        "primary": safe_colour(brand.primary_colour, "#1f4e8c"),
        "accent": safe_colour(brand.accent_colour, "#0b7a53"),
        "support_email": brand.support_email,
        "reference": consignment.reference,
        "headline": headline,
        "warning": wording.advice(warning, problem, brand.name),
        "delayed": warning is rules.Warning.DELAY,
        "latest": latest_view,
        "expected": date_format(expected, "l j F") if show_expected else "",
        "page_url": page,
        "unsubscribe_url": unsubscribe,
        "confirm_url": public_url(
            f"/notify/confirm/{notifications.token_for(subscriber, 'confirm')}/"
        ),
        "email": subscriber.email,
    }
