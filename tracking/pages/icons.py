"""The icons of the customer pages: one inline SVG sprite, and the icon for each status.

Each shape is written once per page, in SPRITE (base.html and embed.html put it first in the
body, through the `icon_sprite` context processor), and each icon refers to it by id.
Decorative: hidden from assistive technology, because the text beside each icon says the same.
"""

from __future__ import annotations

from django.utils.safestring import SafeString, mark_safe

from tracking.status import Status

# Shapes after Feather Icons (MIT).
_PATHS = {
    "label": '<path d="M20.6 13.4 13.4 20.6a2 2 0 0 1-2.8 0L2 12V2h10l8.6 8.6a2 2 0 0 1 0 2.8z"/>'
    '<path d="M7 7h.01"/>',
    "box": '<path d="M21 16V8a2 2 0 0 0-1-1.7l-7-4a2 2 0 0 0-2 0l-7 4A2 2 0 0 0 3 8v8a2 2 0 0 0 1 '
    '1.7l7 4a2 2 0 0 0 2 0l7-4a2 2 0 0 0 1-1.7z"/><path d="M3.3 7 12 12l8.7-5"/>'
    '<path d="M12 22V12"/>',
    "truck": '<path d="M1 3h15v13H1z"/><path d="M16 8h4l3 3v5h-7z"/>'
    '<circle cx="5.5" cy="18.5" r="2.5"/><circle cx="18.5" cy="18.5" r="2.5"/>',
    "pin": '<path d="M21 10c0 7-9 13-9 13s-9-6-9-13a9 9 0 0 1 18 0z"/>'
    '<circle cx="12" cy="10" r="3"/>',
    "store": '<path d="M3 9l1.5-5h15L21 9"/><path d="M4 9v11h16V9"/><path d="M9 20v-6h6v6"/>'
    '<path d="M3 9h18"/>',
    "check": '<circle cx="12" cy="12" r="10"/><path d="m7.5 12.5 3 3 6-6.5"/>',
    "tick": '<path d="M20 6 9 17l-5-5"/>',
    "dot": '<circle cx="12" cy="12" r="4.5" fill="currentColor" stroke="none"/>',
    "alert": '<path d="M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0'
    '-3.4 0z"/>'
    '<path d="M12 9v4"/><path d="M12 17h.01"/>',
    "attempt": '<circle cx="12" cy="12" r="10"/><path d="M12 7v5"/><path d="M12 16h.01"/>',
    "cancel": '<circle cx="12" cy="12" r="10"/><path d="m15 9-6 6"/><path d="m9 9 6 6"/>',
    "clock": '<circle cx="12" cy="12" r="10"/><path d="M12 6v6l4 2"/>',
    "info": '<circle cx="12" cy="12" r="10"/><path d="M12 16v-4"/><path d="M12 8h.01"/>',
    "external": '<path d="M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6"/>'
    '<path d="M15 3h6v6"/><path d="M10 14 21 3"/>',
    "calendar": '<rect x="3" y="4" width="18" height="18" rx="2"/>'
    '<path d="M16 2v4M8 2v4M3 10h18"/>',
    "lock": '<rect x="3" y="11" width="18" height="11" rx="2"/>'
    '<path d="M7 11V7a5 5 0 0 1 10 0v4"/>',
    "shield": '<path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"/><path d="m9 12 2 2 4-4"/>',
    "arrow": '<path d="M5 12h14"/><path d="m13 6 6 6-6 6"/>',
    "refresh": '<path d="M23 4v6h-6"/><path d="M20.5 15a9 9 0 1 1-2.1-9.4L23 10"/>',
    "search": '<circle cx="11" cy="11" r="8"/><path d="m21 21-4.3-4.3"/>',
    "pen": '<path d="M12 20h9"/><path d="M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z"/>',
    "mail": '<rect x="2" y="4" width="20" height="16" rx="2"/><path d="m22 6-10 7L2 6"/>',
}


# Each shape is written once per page, in SPRITE (base.html and embed.html put it first in the
# body), and each icon refers to it: a page with thirty events used to carry 136 copies, 40 KB.
# The stroke width stays on each icon, so CSS can still change it there.
SPRITE = mark_safe(  # noqa: S308 - constant markup from _PATHS, no user data
    '<svg class="icon-sprite" width="0" height="0" aria-hidden="true" focusable="false">'
    + "".join(
        f'<symbol id="icon-{name}" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        f'stroke-linecap="round" stroke-linejoin="round">{paths}</symbol>'
        for name, paths in _PATHS.items()
    )
    + "</svg>"
)


def icon(name: str) -> SafeString:
    if name not in _PATHS:
        raise KeyError(name)
    return mark_safe(  # noqa: S308 - constant markup, no user data
        '<svg class="icon" width="20" height="20" stroke-width="2" aria-hidden="true" '
        f'focusable="false"><use href="#icon-{name}"/></svg>'
    )


ICONS = {name: icon(name) for name in _PATHS}


def icon_sprite(request) -> dict:
    """Context processor: the icons' shapes, for the page that shows them."""
    return {"icon_sprite": SPRITE}


STATUS_ICON = {
    Status.UNKNOWN: "info",
    Status.PRINTED: "label",
    Status.MANIFESTED: "label",
    Status.AWAITING_COLLECTION: "label",
    Status.DISPATCHED: "box",
    Status.IN_TRANSIT: "truck",
    Status.OUT_FOR_DELIVERY: "pin",
    Status.PICKUP_IN_STORE: "store",
    Status.ATTEMPTED_DELIVERY: "attempt",
    Status.EXCEPTION: "alert",
    Status.CANCELLED: "cancel",
    Status.DELIVERED: "check",
}


def status_icon(status: int) -> SafeString:
    """The icon that stands beside a status's words."""
    return ICONS[STATUS_ICON[Status(status)]]


DELAY_ICON = ICONS["clock"]  # a delay keeps its status; the clock says it is running late
