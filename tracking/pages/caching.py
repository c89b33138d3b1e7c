"""What one answer of the tracking page represents, and the conditional answers it allows.

A `Representation` names everything a rendered page or live region depends on, once per
request: the consignment's version (every write under it moves it on), the brand's revision
(every brand change, bumped by a trigger: migration 0007), the code that renders it
(CODE_REVISION), the surface (the site, or an embed for one parent origin), the language and
whether the URL chose it, the privacy tier, page or live region, the form token's hour, the
brand's local day and the poll interval. Its digest is both the ETag and the key under which
the anonymous body is kept (Timeline.cached), so the validator and the cache cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from importlib import metadata
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import get_conditional_response

PAGES = Path(__file__).resolve().parent
# What a page's markup is made from besides the data: templates, the code that prepares and
# renders it, the status texts and their translations, the collected static files' names, and
# the libraries that write part of it.
_SOURCES = (
    (settings.BASE_DIR / "templates", "**/*.html"),
    (PAGES, "*.py"),
    (PAGES.parent, "status.py"),
    (settings.BASE_DIR / "locale", "**/*.mo"),
    (Path(settings.STATIC_ROOT), "staticfiles.json"),
)
_LIBRARIES = ("django", "django-htmx", "django-template-partials")


def code_revision() -> str:
    """A digest of everything besides the data that a page's bytes depend on, computed once
    per process. It replaces a hand-bumped revision: a release that changes a template, a
    presenter or a translation changes every ETag and every cache key, and one that changes
    none of them keeps the browsers' copies valid."""
    digest = hashlib.sha256()
    for root, pattern in _SOURCES:
        for path in sorted(root.glob(pattern)):
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    for name in _LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(name.encode())
    return digest.hexdigest()[:16]


CODE_REVISION = code_revision()


class Representation:
    """One representation of one consignment's page, described once per request; `etag` and
    `key` come from the same digest, computed on first use."""

    __slots__ = (
        "version",
        "brand_revision",
        "surface",
        "language",
        "lang_in_url",
        "verified",
        "partial",
        "window",
        "today",
        "poll",
        "_digest",
    )

    def __init__(
        self,
        *,
        version: str,
        brand_revision: int,
        surface: str,
        language: str,
        lang_in_url: bool,
        verified: bool,
        partial: bool,
        window: int,
        today: dt.date,
        poll: int,
    ):
        self.version = version
        self.brand_revision = brand_revision
        self.surface = surface
        self.language = language
        self.lang_in_url = lang_in_url
        self.verified = verified
        self.partial = partial
        self.window = window
        self.today = today
        self.poll = poll
        self._digest = ""

    @property
    def digest(self) -> str:
        if not self._digest:
            parts = (
                CODE_REVISION,
                self.version,
                str(self.brand_revision),
                self.surface,
                "lang-in-url" if self.lang_in_url else "lang-negotiated",
                self.language,
                "verified" if self.verified else "anonymous",
                "live" if self.partial else "page",
                str(self.window),
                self.today.isoformat(),
                str(self.poll),
            )
            self._digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
        return self._digest

    @property
    def etag(self) -> str:
        return f'W/"{self.digest}"'

    @property
    def key(self) -> str:
        """The name of the rendered body in Timeline.cached."""
        return f"page:{self.digest}"

    def as_live(self) -> Representation:
        """The live region of the same page (the page embeds its validator)."""
        if self.partial:
            return self
        live = Representation(
            version=self.version,
            brand_revision=self.brand_revision,
            surface=self.surface,
            language=self.language,
            lang_in_url=self.lang_in_url,
            verified=self.verified,
            partial=True,
            window=self.window,
            today=self.today,
            poll=self.poll,
        )
        return live


def unless_fresh(request: HttpRequest, etag: str, last_modified: float) -> HttpResponse | None:
    """The 304 (or 412) that the request's conditional headers call for, or None to send the
    body. A poll sends back exactly the ETag it was given and no other condition: that case
    is answered at once; any other combination gets Django's full RFC 9110 evaluation."""
    meta = request.META
    # If-None-Match compares weakly (RFC 9110, 13.1.2): with or without W/ it is the same
    # validator, whether GZipMiddleware or a proxy added the W/ or took it off.
    if (
        meta.get("HTTP_IF_NONE_MATCH", "").removeprefix("W/") == etag.removeprefix("W/")
        and "HTTP_IF_MATCH" not in meta
        and "HTTP_IF_UNMODIFIED_SINCE" not in meta
    ):
        return HttpResponseNotModified()
    shell = HttpResponse()
    response = get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=shell
    )
    return None if response is shell else response
