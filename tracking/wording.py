"""What a customer reads for each normalised event code, in the page's language.

A short title per code in `tracking.status.CODE_STATUS`, the way a carrier's own app words a
scan ("Picked up by the carrier", "Delayed"); the page shows it as the event's title with the
carrier's own description beneath it, and the email notifications reuse it. A code not listed
here (a carrier's own) has no title: the carrier's words are shown alone.

Also here: what a warning means for the customer (`advice`), per kind of warning.

Pure: lazy translations and tracking.status only. Each text has the context "event", so a
translator can word an event's title apart from the status and stage labels of the same
English (the title "Out for delivery" is not the stepper's step "Out for delivery").
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, pgettext_lazy

from tracking import status as rules

# Every code of rules.CODE_STATUS has its words (tests/pages/test_wording.py checks it).
CODE_WORDS: dict[str, Promise] = {
    "FOR_INFORMATION": pgettext_lazy("event", "Update from the carrier"),
    "CARRIER_CHANGED": pgettext_lazy("event", "Passed to another carrier"),
    "LABEL_PRINTED": pgettext_lazy("event", "Label created"),
    "MANIFESTED": pgettext_lazy("event", "Parcel details sent to the carrier"),
    "AWAITING_DROP_OFF": pgettext_lazy("event", "Waiting to be handed to the carrier"),
    "COLLECTED_BY_CARRIER": pgettext_lazy("event", "Picked up by the carrier"),
    "DROPPED_OFF": pgettext_lazy("event", "Handed to the carrier"),
    "IN_TRANSIT": pgettext_lazy("event", "On its way"),
    "IN_TRANSIT_WAITING": pgettext_lazy("event", "Waiting at a depot"),
    "AT_CUSTOMS": pgettext_lazy("event", "At customs"),
    "CLEARED_THROUGH_CUSTOMS": pgettext_lazy("event", "Cleared customs"),
    "DELAYED": pgettext_lazy("event", "Delayed"),
    "WEATHER_DELAY": pgettext_lazy("event", "Delayed by the weather"),
    "CUSTOMS_HOLD": pgettext_lazy("event", "Held at customs"),
    "ADDRESS_QUERY": pgettext_lazy("event", "Checking the address"),
    "MISSED_CONNECTION": pgettext_lazy("event", "Missed its connection"),
    "PARTIALLY_DELIVERED": pgettext_lazy("event", "Partly delivered"),
    "OUT_FOR_DELIVERY": pgettext_lazy("event", "Out for delivery"),
    "AT_COLLECTION_POINT": pgettext_lazy("event", "Ready to collect"),
    "DELIVERY_FAILED": pgettext_lazy("event", "Delivery attempt failed"),
    "DELIVERY_FAILED_CARD_LEFT": pgettext_lazy("event", "Nobody home, card left"),
    "DELIVERED": pgettext_lazy("event", "Delivered"),
    "DELIVERED_DAMAGED": pgettext_lazy("event", "Delivered damaged"),
    "EXCHANGE_SUCCEEDED": pgettext_lazy("event", "Exchange completed"),
    "EXCEPTION": pgettext_lazy("event", "Problem with the delivery"),
    "ACTION_REQUIRED": pgettext_lazy("event", "Action needed"),
    "HELD_BY_CARRIER": pgettext_lazy("event", "Held by the carrier"),
    "COLLECTION_FAILED": pgettext_lazy("event", "Pickup failed"),
    "FAILED_TO_COLLECT": pgettext_lazy("event", "Could not be picked up"),
    "EXCHANGE_FAILED": pgettext_lazy("event", "Exchange failed"),
    "DAMAGED": pgettext_lazy("event", "Damaged"),
    "LOST": pgettext_lazy("event", "Parcel lost"),
    "MISSING": pgettext_lazy("event", "Parcel missing"),
    "DESTROYED": pgettext_lazy("event", "Parcel destroyed"),
    "RETURNED_TO_SENDER": pgettext_lazy("event", "Returning to the sender"),
    "CANCELLED": pgettext_lazy("event", "Cancelled"),
}

# Said on the day itself only: "Out for delivery" from yesterday is not "today" any more.
TODAY_WORDS: dict[str, Promise] = {
    "OUT_FOR_DELIVERY": pgettext_lazy("event", "Out for delivery today"),
}


def customer_text(code: str, *, today: bool = False) -> str:
    """The customer's words for a normalised code in the active language, or "" for a code
    the table does not know (show the carrier's description instead). `today`: the event
    happened on the day the customer reads about it (in the brand's time zone)."""
    words = (TODAY_WORDS.get(code) if today else None) or CODE_WORDS.get(code)
    return str(words) if words is not None else ""


_ADVICE: dict[rules.Status | None, Promise] = {
    None: gettext_lazy(
        "The carrier reported a delay, so the parcel may arrive later than expected. This page "
        "shows the next update as soon as the carrier sends it."
    ),
    rules.Status.ATTEMPTED_DELIVERY: gettext_lazy(
        "The carrier could not deliver this time. They usually try again or leave a card "
        "saying what happens next."
    ),
    rules.Status.CANCELLED: gettext_lazy(
        "This shipment was cancelled. If you did not expect this, contact %(brand)s."
    ),
    rules.Status.EXCEPTION: gettext_lazy(
        "The carrier reported a problem with this delivery. %(brand)s has been told and will "
        "help if anything is needed from you."
    ),
}


def advice(warning: rules.Warning, problem_status: int | None, brand: str) -> str:
    """What a warning means for the customer: a delay's, or a problem status's (a failed
    attempt, an exception, a cancellation), in the active language."""
    if warning is rules.Warning.NONE:
        return ""
    key = None
    if warning is rules.Warning.PROBLEM:
        key = rules.Status(problem_status) if problem_status in _ADVICE else rules.Status.EXCEPTION
    return str(_ADVICE[key]) % {"brand": brand}
