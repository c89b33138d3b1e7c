"""What the lookup form shows: the page without a consignment, where a visitor types what
they have (the EC reference or a package's EP reference, or a carrier's tracking number or the
shop's order number) and the delivery postcode. What they typed comes back cleaned, for the
form to show again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from tracking.fields import REFERENCE_MAX
from tracking.pages.icons import ICONS
from tracking.pages.links import LanguageLink, Links, language_links, with_language


@dataclass(frozen=True)
class LookupPage:
    title: str
    languages: list[LanguageLink]
    action: str
    token: str
    reference: str
    postcode: str
    error: str  # about what was typed (or both fields, with postcode_invalid)
    postcode_error: str  # about the postcode alone
    postcode_invalid: bool  # the postcode is part of `error` (a number and postcode not found)
    reference_max: int
    icons: dict = field(default_factory=lambda: ICONS)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def typed_back(value: object, limit: int = REFERENCE_MAX) -> str:
    """What a visitor typed, safe to show again in a form (autoescape does the HTML part)."""
    if not isinstance(value, str):
        return ""
    return _CONTROL.sub("", value).strip()[:limit]


def lookup_page(
    *,
    links: Links,
    language: str,
    lang_in_url: bool,
    token: str,
    reference: str = "",
    postcode: str = "",
    error: str = "",
    postcode_error: str = "",
    postcode_invalid: bool = False,
) -> LookupPage:
    return LookupPage(
        title=_("Track your parcel"),
        languages=language_links(links.home, language),
        action=with_language(links.lookup, language if lang_in_url else None),
        token=token,
        reference=typed_back(reference),
        postcode=typed_back(postcode, 20),
        error=error,
        postcode_error=postcode_error,
        postcode_invalid=postcode_invalid or bool(postcode_error),
        reference_max=REFERENCE_MAX,
    )
