"""Where the customer pages link to, and in which language.

The view reverses the paths (`Links`); this adds the query parameters that keep a visitor's
choices from page to page: the language, and on the embed its parent and access token. No
routing and no request here.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings


@dataclass(frozen=True, slots=True)
class LanguageLink:
    code: str
    name: str
    url: str
    current: bool


@dataclass(frozen=True, slots=True)
class Links:
    """The paths a page links to, reversed by the view: present never routes. Query
    parameters (the language, the embed's parent and access) are added here."""

    home: str  # the lookup form
    lookup: str = ""  # where the lookup form posts
    page: str = ""  # this consignment's page on this surface: the site's, or the embed's
    verify: str = ""  # where its postcode form posts
    notify: str = ""  # where its "Email me updates" form posts
    site_page: str = ""  # the site's page of the consignment (the embed's "full page" link)
    theme: str = ""  # the brand's colour stylesheet


def with_query(url: str, **params: str | None) -> str:
    """`url` with the given query parameters, leaving out empty ones."""
    present = {name: value for name, value in params.items() if value}
    return f"{url}?{urlencode(present)}" if present else url


def with_language(url: str, language: str | None) -> str:
    return with_query(url, lang=language)


def language_links(path: str, current: str, **keep: str | None) -> list[LanguageLink]:
    return [
        LanguageLink(
            code=code, name=name, url=with_query(path, lang=code, **keep), current=code == current
        )
        for code, name in settings.LANGUAGES
    ]
