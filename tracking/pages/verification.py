"""Proving that a visitor is the recipient, and guarding the public forms without cookies.

Privacy tiers: anyone holding a reference sees statuses, times and towns; a visitor who enters
the destination postcode also sees the recipient's name, email, address and who signed. The
consignments a browser has proved are remembered in its session, which is created only then:
the session cookie is the first cookie a visitor ever gets from us.

Why the forms do not use Django's CSRF cookie: public pages must set no cookie before the
visitor submits something, and the same forms must work inside a brand's iframe, where
browsers block third-party cookies. So the lookup, postcode and sign-up forms are exempt from
Django's cookie-based check and carry their own protection instead:

* a signed, short-lived form token (django.core.signing, its own salt, bound to the
  consignment's postcode form, its "Email me updates" form or the lookup form) in a hidden
  field, so a request forged elsewhere has no valid token, and
* an Origin check: a browser names the page a POST comes from, and it must be one of ours.

Wrong postcodes are rate-limited per client address and per consignment, shared across
workers (tracking.ratelimit). Both limits are checked before comparing, so once a limit is
reached even the right postcode is refused until the window ends. The views hand in what is
needed (the session, the client's address, the Origin and the token): apart from
`allowed_origins`, which reads this site's own origin from it, nothing here reads or writes a
request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core import signing
from django.http import HttpRequest

from tracking import ratelimit
from tracking.models import Consignment

# The salts keep their old module path: tokens issued before the move stay valid.
FORM_TOKEN_SALT = "tracking.verification.form-token"
FORM_TOKEN_MAX_AGE = 2 * 60 * 60  # seconds a form may stay open before it must be reloaded
# Tokens are stamped with the start of their hour, so a page's token is the same all hour and
# the page can still be answered 304 from a cache; the window is part of the page's ETag, so a
# cached page always carries a token with at least an hour left.
FORM_TOKEN_STEP = 60 * 60
LOOKUP_FORM = "lookup"

SESSION_KEY = "tracking_verified"
SESSION_LIMIT = 20  # consignments remembered per browser session

CLIENT_SCOPE = "postcode-client"
CONSIGNMENT_SCOPE = "postcode-consignment"
POSTCODE_MAX = 20


# -- Form tokens and origins ---------------------------------------------------------------


class _HourSigner(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(token_window() * FORM_TOKEN_STEP)


def token_window() -> int:
    """The number of the current token window (part of the tracking page's ETag)."""
    return int(time.time()) // FORM_TOKEN_STEP


def _signer(binding: str) -> signing.TimestampSigner:
    # The binding goes into the salt rather than the signed value, so the token reveals
    # nothing (not even the consignment's id) yet is useless for any other form.
    return _HourSigner(salt=f"{FORM_TOKEN_SALT}:{binding}")


def form_token(binding: str) -> str:
    """A token for the form of one consignment (its id) or for the lookup form."""
    return _signer(binding).sign("form")


def notify_binding(consignment: Consignment) -> str:
    """The binding of a consignment's "Email me updates" form: its own, so that a token of
    the page's postcode form is no good on it, nor the other way round."""
    return f"notify:{consignment.pk}"


def token_valid(token: object, binding: str) -> bool:
    if not isinstance(token, str) or not token or len(token) > 200:
        return False
    try:
        return _signer(binding).unsign(token, max_age=FORM_TOKEN_MAX_AGE) == "form"
    except signing.BadSignature:  # includes SignatureExpired
        return False


def own_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def allowed_origins(request: HttpRequest) -> set[str]:
    """Where our forms may be posted from: this site (and origins the operator trusts)."""
    return {own_origin(request), *settings.CSRF_TRUSTED_ORIGINS}


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """A browser's Origin header must name one of `allowed`. Without the header (older
    browsers, non-browser clients) the form token alone protects the form; "null" (sandboxed
    or privacy-redirected documents) is refused."""
    if origin is None:
        return True
    wanted = {item.strip().rstrip("/").lower() for item in allowed}
    return origin.strip().rstrip("/").lower() in wanted


def form_accepted(
    *, origin: str | None, token: object, binding: str, allowed: Iterable[str]
) -> bool:
    """A POST of one of our forms (its token), posted from one of our pages (its Origin
    header), within its token's lifetime."""
    return origin_allowed(origin, allowed) and token_valid(token, binding)


# -- Postcode verification ------------------------------------------------------------------


class Outcome(Enum):
    VERIFIED = "verified"
    WRONG = "wrong"
    BLANK = "blank"
    LIMITED = "limited"


@dataclass(frozen=True)
class Verification:
    outcome: Outcome
    retry_after: int = 0


def check_postcode(
    session: SessionBase | None,
    client: str,
    consignment: Consignment,
    postcode: str,
) -> Verification:
    """Compare a typed postcode with the consignment's, within both rate limits (`client` is
    the visitor's address). A right one is remembered in `session`; the embed page, which
    carries its proof in a token instead, passes None."""
    postcode = (postcode or "").strip()
    if not postcode:
        return Verification(Outcome.BLANK)
    rate = settings.RATE_LIMIT_POSTCODE
    idents = [(CLIENT_SCOPE, client), (CONSIGNMENT_SCOPE, str(consignment.pk))]
    blocked = [d for d in (ratelimit.peek(s, i, rate) for s, i in idents) if not d.allowed]
    if blocked:
        return Verification(Outcome.LIMITED, retry_after=max(d.retry_after for d in blocked))
    if len(postcode) <= POSTCODE_MAX and consignment.postcode_matches(postcode):
        if session is not None:
            remember(session, consignment)
        return Verification(Outcome.VERIFIED)
    for scope, ident in idents:
        ratelimit.hit(scope, ident, rate)
    return Verification(Outcome.WRONG)


@dataclass(frozen=True)
class Found:
    """What a lookup by number and postcode found: the consignment, or None (a miss, also
    when the number exists and the postcode is wrong), or LIMITED."""

    outcome: Outcome
    consignment: Consignment | None = None
    retry_after: int = 0


def find_by_postcode(client: str, candidates: list[Consignment], postcode: str) -> Found:
    """Of the consignments a tracking or order number names (newest first), the newest whose
    destination postcode this is. Never remembered as verified: the number may be guessable,
    so the page still asks for the postcode before showing private details.

    A right match would confirm the postcode, so the lookup is held to the postcode limits
    too: a miss counts against the client's RATE_LIMIT_POSTCODE (whether or not the number
    exists, so the count says nothing) and against each candidate's, and a consignment whose
    limit is spent cannot be found this way until its window ends (answered as a miss)."""
    postcode = (postcode or "").strip()
    if not postcode:
        return Found(Outcome.BLANK)
    rate = settings.RATE_LIMIT_POSTCODE
    mine = ratelimit.peek(CLIENT_SCOPE, client, rate)
    if not mine.allowed:
        return Found(Outcome.LIMITED, retry_after=mine.retry_after)
    if len(postcode) <= POSTCODE_MAX:
        for consignment in candidates:
            if consignment.postcode_matches(postcode) and (
                ratelimit.peek(CONSIGNMENT_SCOPE, str(consignment.pk), rate).allowed
            ):
                return Found(Outcome.VERIFIED, consignment)
    ratelimit.hit(CLIENT_SCOPE, client, rate)
    for consignment in candidates:
        ratelimit.hit(CONSIGNMENT_SCOPE, str(consignment.pk), rate)
    return Found(Outcome.WRONG)


def remember(session: SessionBase, consignment: Consignment) -> None:
    """Mark the consignment as verified for this browser session (this sets the cookie)."""
    fresh = not session.session_key
    ids = [i for i in session.get(SESSION_KEY, []) if i != str(consignment.pk)]
    session[SESSION_KEY] = [*ids, str(consignment.pk)][-SESSION_LIMIT:]
    if fresh:
        session.set_expiry(0)  # until the browser closes
    else:
        session.cycle_key()  # new rights, new session key


def is_verified(session: SessionBase, consignment: Consignment) -> bool:
    """Without a session cookie this reads nothing from the database."""
    return str(consignment.pk) in session.get(SESSION_KEY, ())


# -- Verification inside a brand's iframe -------------------------------------------------------

# Inside a third-party iframe the browser drops our session cookie, so a verified embed carries
# its proof in the URLs it requests instead: a signed token, bound to one consignment and good
# for an hour, that only this server can make. Tampered with or expired, it proves nothing and
# the page is simply the anonymous one.
EMBED_ACCESS_SALT = "tracking.verification.embed-access"
EMBED_ACCESS_MAX_AGE = 60 * 60


def embed_access_token(consignment: Consignment) -> str:
    return signing.TimestampSigner(salt=f"{EMBED_ACCESS_SALT}:{consignment.pk}").sign("verified")


def embed_access_valid(token: object, consignment: Consignment) -> bool:
    if not isinstance(token, str) or not token or len(token) > 200:
        return False
    signer = signing.TimestampSigner(salt=f"{EMBED_ACCESS_SALT}:{consignment.pk}")
    try:
        return signer.unsign(token, max_age=EMBED_ACCESS_MAX_AGE) == "verified"
    except signing.BadSignature:  # includes SignatureExpired
        return False
