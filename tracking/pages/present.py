"""What the customer pages show, prepared before any template runs.

Labels in the active language, local times in the brand's time zone, the stepper, which
details the viewer may see: templates only loop and print. No queries and no URL routing
here: the data comes from a Timeline loaded through tracking.access (the head, then the legs
with their events on first use), and the addresses from the `Links` the view hands in
(tracking.pages.links). The lookup form's page, which has no consignment, is `lookup`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import formats
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from tracking import status as rules
from tracking import wording
from tracking.models import Brand
from tracking.pages.icons import DELAY_ICON, ICONS, status_icon
from tracking.pages.links import LanguageLink, Links, language_links, with_language, with_query
from tracking.status import Kind, Stage, Status, Warning
from tracking.timeline import EventRow, LegRow, PackageTimeline, Timeline

POLL_SECONDS = 30  # tests shorten it with the TRACKING_POLL_SECONDS setting

# htmx reads this from <meta name="htmx-config">. The CSP allows no inline style and no eval,
# so htmx must not inject its indicator <style> nor evaluate anything; a 304 to a poll must
# leave the region alone (htmx 2 swaps on every 2xx/3xx by default), while 286 (stop polling)
# still swaps in the final content.
HTMX_CONFIG = json.dumps(
    {
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
        "selfRequestsOnly": True,
        "historyEnabled": False,
        "responseHandling": [
            {"code": "204", "swap": False},
            {"code": "304", "swap": False},
            {"code": "[23]..", "swap": True},
            {"code": "[45]..", "swap": False, "error": True},
            {"code": "...", "swap": False},
        ],
    },
    separators=(",", ":"),
)


def poll_seconds() -> int:
    return int(getattr(settings, "TRACKING_POLL_SECONDS", POLL_SECONDS))


# The tone picks a colour; the icon and the words carry the meaning on their own.
STATUS_TONE = {
    Status.DELIVERED: "success",
    Status.PICKUP_IN_STORE: "success",
    Status.ATTEMPTED_DELIVERY: "warning",
    Status.EXCEPTION: "danger",
    Status.CANCELLED: "muted",
    Status.UNKNOWN: "neutral",
}


def tone(status: int) -> str:
    return STATUS_TONE.get(Status(status), "progress")


DELAY_TONE = "warning"


# -- Dates and times ------------------------------------------------------------------------


class LocalClock:
    """Event times as '9 Mar 2026, 14:05 GMT': local time in the brand's zone, in the active
    language. Formatting dates is the costliest part of rendering the page, and leg-wide events
    appear under every package, so each instant is formatted once per page."""

    def __init__(self, zone):
        self.zone = zone
        # Translators: a Django date format (see the "date" template filter) for the time of a
        # tracking event; keep "T", the time zone.
        self.format = pgettext("date format of a tracking event", "j M Y, H:i T")
        self._done: dict[dt.datetime, str] = {}

    def day(self, value: dt.datetime) -> dt.date:
        return value.astimezone(self.zone).date()

    def __call__(self, value: dt.datetime) -> str:
        text = self._done.get(value)
        if text is None:
            text = formats.date_format(value.astimezone(self.zone), self.format)
            self._done[value] = text
        return text


def long_date(value: dt.date) -> str:
    """'Wednesday 11 March' in the active language."""
    # Translators: a Django date format (see the "date" template filter) for the expected
    # delivery day.
    fmt = pgettext("date format of the expected delivery day", "l j F")
    return formats.date_format(value, fmt)


def _humanise_code(code: str) -> str:
    words = re.sub(r"_+", " ", code or "").strip().lower()
    return words[:1].upper() + words[1:] if words else _("Update")


# -- What the template receives -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrandView:
    name: str
    logo_url: str
    theme_url: str
    support_email: str
    support_url: str


@dataclass(frozen=True, slots=True)
class StepView:
    label: str
    state: str  # done, current or upcoming
    current: bool
    hidden_note: str  # read by screen readers after the label: "completed", the warning
    icon: SafeString | str
    warning: bool
    tone: str


@dataclass(frozen=True, slots=True)
class EventView:
    text: str  # the title: the customer's words for the code, else the carrier's own
    detail: str  # the carrier's own words beneath the title ("" when they add nothing)
    status_note: str  # the status in words for screen readers when the text does not say it
    tone: str
    icon: SafeString
    when: str
    iso: str
    location: str
    signed: str
    latest: bool


@dataclass(frozen=True, slots=True)
class LegView:
    carrier: str
    service: str
    tracking_number: str
    tracking_url: str
    link_text: str
    position: str
    events: list[EventView]


@dataclass(frozen=True, slots=True)
class PackageView:
    anchor: str
    title: str
    reference: str
    position: str
    status_label: str
    tone: str
    icon: SafeString
    handover: list[str]
    legs: list[LegView]


@dataclass(frozen=True, slots=True)
class RecipientView:
    name: str
    email: str
    address_lines: list[str]
    order: str


@dataclass(frozen=True, slots=True)
class VerifyForm:
    action: str
    token: str
    value: str
    error: str


@dataclass(frozen=True, slots=True)
class NotifyAnswer:
    """What a POST of the "Email me updates" form answered, worded by the view; the page's own
    form (a GET) has none of it."""

    value: str = ""  # the address typed, shown again beside an error
    error: str = ""  # beside the field
    notice: str = ""  # in the status region: "check your inbox", "too many", "try again"
    notice_detail: str = ""
    notice_tone: str = ""  # "success" or "warning"
    sent: bool = False  # accepted: the notice takes the form's place


NO_ANSWER = NotifyAnswer()


@dataclass(frozen=True, slots=True)
class NotifyForm:
    """The "Email me updates" form (design section 7.4)."""

    action: str  # where the form posts without JavaScript (#notify: back to the form)
    hx_action: str  # the same, for htmx
    token: str
    answer: NotifyAnswer


@dataclass(frozen=True, slots=True)
class WarningView:
    """The page's one current warning (design section 7.1): a delay or a problem at the stage
    reached, until a later progress event clears it."""

    kind: str  # "delay" or "problem": the element's data-warning
    title: str  # the customer's words for the event warned of
    detail: str  # the carrier's own words
    advice: str  # what it means for the customer
    subject: str  # which packages it is about, when not all of several
    tone: str
    icon: SafeString


@dataclass(frozen=True)
class TrackingPage:
    reference: str
    title: str
    brand: BrandView
    languages: list[LanguageLink]
    headline: str
    headline_tone: str
    headline_icon: SafeString
    count_text: str
    warning: WarningView | None
    expected: str
    expected_iso: str
    steps: list[StepView]
    progress_now: int
    progress_max: int
    progress_text: str
    progress_class: str
    packages: list[PackageView]
    switcher: bool
    latest_text: str
    latest_warning: str  # read out with the latest update by screen readers, when one applies
    destination_town: str
    recipient: RecipientView | None
    verify: VerifyForm | None
    page_url: str
    home_url: str
    poll: bool
    poll_url: str
    poll_trigger: str
    live_etag: str
    final: bool
    embed: EmbedView | None = None
    notify: NotifyForm | None = None
    htmx_config: str = HTMX_CONFIG
    icons: dict = field(default_factory=lambda: ICONS)


# -- Building it ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmbedView:
    """The page as shown inside a brand's iframe: which page may hear its height, and the
    proof of a verified postcode that replaces the session there."""

    parent_origin: str  # checked against the brand's embed origins; "" = tell no one
    access: str  # a valid embed access token, or ""
    full_page_url: str
    # The brand's embed origins, space-separated, for a plain <iframe> without ?parent=: its
    # script learns the framing origin from the browser and checks it against these. Nothing
    # secret: the same list is the response's frame-ancestors.
    allowed_origins: str = ""


def brand_view(brand: Brand, theme_url: str) -> BrandView:
    return BrandView(
        name=brand.name,
        logo_url=brand.logo_url,
        theme_url=theme_url,
        support_email=brand.support_email,
        support_url=brand.support_url,
    )


def _same_words(a: str, b: str) -> bool:
    """'Delivered.' says nothing that the title 'Delivered' did not."""
    return re.sub(r"\W+", "", a).casefold() == re.sub(r"\W+", "", b).casefold()


def event_words(event: EventRow, today: bool = False) -> tuple[str, str]:
    """An event's title and the carrier's words beneath it. A normalised code has the
    customer's words (tracking.wording); a code the table does not know shows the carrier's
    words alone."""
    description = event.description.strip()
    words = wording.customer_text(event.code, today=today)
    if words:
        return words, "" if _same_words(description, words) else description
    if description:
        return description, ""
    status = Status(event.status)
    return (
        rules.status_label(status) if status != Status.UNKNOWN else _humanise_code(event.code)
    ), ""


def _event_view(
    event: EventRow, clock: LocalClock, *, verified: bool, latest: bool, today: dt.date | None
) -> EventView:
    status = Status(event.status)
    text, detail = event_words(event, today is not None and clock.day(event.occurred_at) == today)
    # A carrier's own code with a status: its words may not say the status, so say it.
    note = ""
    if status != Status.UNKNOWN and event.code not in wording.CODE_WORDS:
        note = rules.status_label(status)
    delay = rules.kind_of(event.code, status) is Kind.DELAY
    signed = ""
    if event.signed_by.strip():
        signed = (
            _("Signed for by %(name)s") % {"name": event.signed_by.strip()}
            if verified
            else _("Signed for")
        )
    return EventView(
        text=text,
        detail=detail,
        status_note=note,
        tone=DELAY_TONE if delay else tone(status),
        icon=DELAY_ICON if delay else status_icon(status),
        when=clock(event.occurred_at),
        iso=event.occurred_at.isoformat(timespec="seconds"),
        location=event.location.strip(),
        signed=signed,
        latest=latest,
    )


def carrier_name(leg: LegRow) -> str:
    return leg.carrier_name.strip() or leg.service_name.strip() or _("Carrier")


def _leg_view(
    leg: LegRow, events: list[EventRow], number: int, total: int, clock, *, verified, latest, today
) -> LegView:
    name = carrier_name(leg)
    service = leg.carrier_service_name.strip()
    url = leg.tracking_url if leg.tracking_url.lower().startswith(("https://", "http://")) else ""
    return LegView(
        carrier=name,
        service=service if service and service != name else "",
        tracking_number=leg.tracking_number,
        tracking_url=url,
        link_text=_("Track with %(carrier)s") % {"carrier": name},
        position=_("Carrier %(number)d of %(total)d") % {"number": number, "total": total}
        if total > 1
        else "",
        events=[
            _event_view(event, clock, verified=verified, latest=latest is event, today=today)
            for event in reversed(events)
        ],
    )


def _package_title(pt: PackageTimeline, number: int) -> str:
    return pt.package.description.strip() or _("Package %(number)d") % {"number": number}


def _delayed(progress: rules.Progress) -> bool:
    """A delay is the warning and the status is a normal one: the status's words and a clock."""
    return progress.warning is Warning.DELAY and progress.status not in rules.WARNING_STATUSES


def _latest_event(progress: rules.Progress, events: list[EventRow]) -> EventRow | None:
    """The customer's "latest update": the event that set the status (a backfilled earlier
    scan arriving later is not it), else the newest event (only information so far)."""
    if progress.latest is not None:
        return progress.latest.event
    return max(events, key=lambda e: e.order_key) if events else None


def _package_view(
    pt: PackageTimeline,
    progress: rules.Progress,
    number: int,
    total: int,
    clock: LocalClock,
    *,
    verified: bool,
    today: dt.date,
) -> PackageView:
    package = pt.package
    pairs = pt.events
    latest = _latest_event(progress, [event for _leg, event in pairs])
    legs = pt.legs
    status = progress.status
    label = _status_headline(status, bool(pairs))
    if _delayed(progress):
        # Translators: a package's status with a delay warning, e.g. "In transit, delayed".
        label = pgettext("a package's status", "%(status)s, delayed") % {"status": label}
    return PackageView(
        anchor=f"package-{package.reference}",
        title=_package_title(pt, number),
        reference=package.reference,
        position=_("Package %(number)d of %(total)d") % {"number": number, "total": total},
        status_label=label,
        tone=DELAY_TONE if _delayed(progress) else tone(status),
        icon=DELAY_ICON if _delayed(progress) else status_icon(status),
        handover=[carrier_name(pl.leg) for pl in legs] if len(legs) > 1 else [],
        legs=[
            _leg_view(
                pl.leg,
                pl.events,
                n,
                len(legs),
                clock,
                verified=verified,
                latest=latest,
                today=today,
            )
            for n, pl in reversed(list(enumerate(legs, start=1)))
        ],
    )


def _warning_view(
    progress: rules.Progress,
    packages: list[PackageTimeline],
    progresses: list[rules.Progress],
    brand: str,
) -> WarningView | None:
    """The current warning: the gravest live one of the consignment's packages (a problem over
    a delay), worded for the customer, with the carrier's words and which packages it is about
    when it is not about all of them."""
    warned = progress.warned
    if warned is None or progress.warning is Warning.NONE:
        return None
    event: EventRow = warned.event
    problem = progress.problem_status
    words, detail = event_words(event)
    if problem is not None:
        title = words or rules.status_label(problem)
        kind, warning_tone, icon = "problem", tone(problem), status_icon(problem)
    else:
        title = words or pgettext("warning", "Delayed")
        kind, warning_tone, icon = "delay", DELAY_TONE, DELAY_ICON
    about = [
        _package_title(pt, n)
        for n, (pt, p) in enumerate(zip(packages, progresses, strict=True), start=1)
        if p.warned is not None and p.warned.event is event
    ]
    return WarningView(
        kind=kind,
        title=title,
        detail=detail,
        advice=wording.advice(progress.warning, problem, brand),
        subject=", ".join(about) if len(packages) > 1 and len(about) < len(packages) else "",
        tone=warning_tone,
        icon=icon,
    )


def _status_headline(status: Status, has_events: bool) -> str:
    if status == Status.UNKNOWN:
        return _("Awaiting the first update") if not has_events else _("On its way")
    return rules.status_label(status)


def _warning_note(progress: rules.Progress) -> str:
    """The warning in a word or two, after the stage it is at ("In transit (Delayed)")."""
    if progress.problem_status is not None:
        return rules.status_label(progress.problem_status)
    if progress.warning is Warning.DELAY:
        return pgettext("warning", "Delayed")
    return ""


def _steps(progress: rules.Progress) -> list[StepView]:
    steps = []
    warning = _warning_note(progress)
    if progress.problem_status is not None:
        warning_tone, warning_icon = (
            tone(progress.problem_status),
            status_icon(progress.problem_status),
        )
    else:
        warning_tone, warning_icon = DELAY_TONE, DELAY_ICON
    for step in progress.steps():
        current = step["stage"] == progress.stage
        note = ""
        if current and warning:
            note = warning
        elif step["state"] == "done":
            note = _("completed")
        if current and warning:
            mark = warning_icon
        elif step["state"] == "done" or (current and progress.stage == Stage.DELIVERED):
            mark = ICONS["tick"]
        elif current:
            mark = ICONS["dot"]
        else:
            mark = ""
        steps.append(
            StepView(
                label=step["label"],
                state="current" if current else step["state"],
                current=current,
                hidden_note=note,
                icon=mark,
                warning=current and bool(warning),
                tone=warning_tone if current and warning else "",
            )
        )
    return steps


def tracking_page(
    timeline: Timeline,
    *,
    links: Links,
    verified: bool,
    language: str,
    lang_in_url: bool,
    today: dt.date,
    live_etag: str,
    postcode: str = "",
    postcode_error: str = "",
    form_token: str = "",
    notify_token: str = "",
    notify: NotifyAnswer = NO_ANSWER,
    embed_parent: str | None = None,
    embed_access: str = "",
) -> TrackingPage:
    """Everything the page and its live region print, in the active language. With
    `embed_parent` (the checked parent origin, possibly "") it is the embed page's: its links,
    poll and form stay on /embed/ and keep the parent and the access token. `notify` is what
    a POST of the sign-up form answered."""
    consignment = timeline.consignment
    brand = timeline.brand
    clock = LocalClock(brand.zone)
    packages = timeline.by_package
    progresses = [pt.progress for pt in packages]
    progress = rules.combined_progress(progresses, consignment.status)
    embedded = embed_parent is not None
    path = links.page
    url_language = language if lang_in_url else None
    keep = {"parent": embed_parent, "access": embed_access} if embedded else {}
    latest = _latest_event(progress, [event for leg in timeline.legs for event in leg.events])
    status = Status(consignment.status)
    headline = _status_headline(status, latest is not None)
    warning = _warning_view(progress, packages, progresses, brand.name)

    # The brand's estimate no longer holds once delivered, cancelled, delayed or in trouble,
    # nor once the day has passed (in the brand's time zone).
    expected = consignment.expected_delivery_date
    show_expected = (
        expected is not None
        and not timeline.is_final
        and progress.warning is Warning.NONE
        and expected >= today
    )

    stage_number = int(progress.stage) + 1
    stage_total = len(Stage)
    progress_text = _("%(stage)s, step %(number)d of %(total)d") % {
        "stage": progress.stage_label,
        "number": stage_number,
        "total": stage_total,
    }
    if note := _warning_note(progress):
        progress_text = f"{progress_text} ({note})"

    recipient = None
    verify = None
    if verified:
        address = [
            consignment.destination_address.strip(),
            " ".join(
                part
                for part in (
                    consignment.destination_town.strip(),
                    consignment.destination_postcode.strip(),
                )
                if part
            ),
            consignment.destination_country.strip(),
        ]
        recipient = RecipientView(
            name=consignment.recipient_name,
            email=consignment.recipient_email,
            address_lines=[line for line in address if line],
            order=consignment.customer_reference,
        )
    else:
        verify = VerifyForm(
            action=with_query(
                links.verify,
                lang=url_language,
                parent=embed_parent,
            ),
            token=form_token,
            value=postcode,
            error=postcode_error,
        )

    # The sign-up form keeps the embed's parent and access token: a verified embed stays
    # verified on the page its POST answers with.
    notify_action = with_query(links.notify, lang=url_language, **keep)
    notify_form = NotifyForm(
        action=f"{notify_action}#notify",
        hx_action=notify_action,
        token=notify_token,
        answer=notify,
    )

    if latest is not None:
        latest_text = _("Latest update: %(text)s, %(when)s") % {
            "text": event_words(latest, clock.day(latest.occurred_at) == today)[0],
            "when": clock(latest.occurred_at),
        }
    else:
        latest_text = _("No tracking updates yet.")
    latest_warning = ""
    if warning is not None:
        latest_warning = _("Warning: %(warning)s") % {"warning": warning.title}

    final = timeline.is_final
    seconds = poll_seconds()
    return TrackingPage(
        reference=consignment.reference,
        title=f"{headline} · {consignment.reference} · {brand.name}",
        brand=brand_view(brand, links.theme),
        languages=language_links(path, language, **keep),
        headline=headline,
        headline_tone=(DELAY_TONE if _delayed(progress) else tone(status))
        if latest is not None
        else "neutral",
        headline_icon=DELAY_ICON if _delayed(progress) else status_icon(status),
        count_text=timeline.summary.text if len(packages) > 1 else "",
        warning=warning,
        expected=long_date(expected) if show_expected else "",
        expected_iso=expected.isoformat() if show_expected else "",
        steps=_steps(progress),
        progress_now=stage_number,
        progress_max=stage_total,
        progress_text=progress_text,
        progress_class=f"progress__fill--{int(progress.stage)}",
        packages=[
            _package_view(pt, p, n, len(packages), clock, verified=verified, today=today)
            for n, (pt, p) in enumerate(zip(packages, progresses, strict=True), start=1)
        ],
        switcher=len(packages) > 1,
        latest_text=latest_text,
        latest_warning=latest_warning,
        destination_town=consignment.destination_town.strip(),
        recipient=recipient,
        verify=verify,
        page_url=with_query(path, lang=url_language, **keep),
        home_url=with_language(links.home, url_language),
        poll=not final,
        poll_url=with_query(path, lang=url_language, **keep),
        poll_trigger=f"every {seconds}s, tracking-refresh",
        live_etag=live_etag,
        final=final,
        embed=EmbedView(
            parent_origin=embed_parent or "",
            access=embed_access,
            full_page_url=with_language(links.site_page, url_language),
            allowed_origins=" ".join(brand.embed_origin_list),
        )
        if embedded
        else None,
        notify=notify_form,
    )
