"""Value rules, each defined once: lengths, shapes, URLs (and where a webhook may point), the
event-time window, and which packages a leg carries.

Pure Python, no ORM. A check returns None when the value passes, or a Problem naming the rule
broken (`code`) and its limit; it never words a message. The models, services, both APIs and
the admin call these and each words the problem in its own voice and envelope, so a limit
changed here changes everywhere at once.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
import socket
import urllib.parse
from collections.abc import Collection
from dataclasses import dataclass

# -- Limits --------------------------------------------------------------------------------------

NAME_MAX = 200  # carrier name, service name, location, signed-by
REFERENCE_MAX = 100  # tracking number and customer references
URL_MAX = 2000
TEXT_MAX = 1000  # event details / descriptions, package descriptions
POSTCODE_MAX = 20
RAW_CODE_MAX = 100  # an event's code as the carrier sent it, before normalising
EMAIL_MAX = 254  # RFC 5321's path limit

# Events may be stamped a little ahead of our clock (carrier clocks drift), never days ahead:
# a far-future event would pin a status for good, since older events never move it back.
FUTURE_HOURS = 24
FUTURE_TOLERANCE = dt.timedelta(hours=FUTURE_HOURS)
EARLIEST_EVENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

# -- Shapes --------------------------------------------------------------------------------------

REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U to misread
CONSIGNMENT_REFERENCE = re.compile(r"^EC-[0-9A-Z]{3}-[0-9A-Z]{3}-[0-9A-Z]{3}\Z")
PACKAGE_REFERENCE = re.compile(r"^EP-[0-9A-Z]{3}-[0-9A-Z]{3}-[0-9A-Z]{3}\Z")
REFERENCES = {"EC": CONSIGNMENT_REFERENCE, "EP": PACKAGE_REFERENCE}
CARRIER_CODE = re.compile(r"^[A-Z0-9]+(_[A-Z0-9]+)*\Z")
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}\Z")
COUNTRY_CODE = re.compile(r"^[A-Z]{2}\Z")
HTTP_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)  # fullmatch
# scheme://host[:port], where host may start with '*.' to allow every subdomain of a domain.
EMBED_ORIGIN = re.compile(
    r"^https?://(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
    r"(:\d{1,5})?\Z"
)
UNPAIRED_SURROGATE = re.compile("[\ud800-\udfff]")

# -- Problems --------------------------------------------------------------------------------------

TOO_LONG = "too_long"  # limit: the most characters
NUL = "nul"  # PostgreSQL text cannot hold NUL
SURROGATE = "surrogate"  # an unpaired surrogate cannot be encoded as UTF-8
NOT_URL = "not_url"
BAD_SHAPE = "bad_shape"  # limit: the pattern's name, e.g. "EP" for EP-XXX-XXX-XXX
NO_OFFSET = "no_offset"
TOO_EARLY = "too_early"  # limit: the earliest instant
TOO_LATE = "too_late"  # limit: the tolerance ahead of now
NOT_INTEGER = "not_integer"
OUT_OF_RANGE = "out_of_range"  # limit: (lowest, highest)
PRIVATE_ADDRESS = "private_address"  # limit: the address
UNRESOLVABLE = "unresolvable"
BAD_SECRET = "bad_secret"


@dataclass(frozen=True, slots=True)
class Problem:
    """The rule a value breaks, and the limit that rule sets (when it has one)."""

    code: str
    limit: object = None


def check_length(value: str, limit: int) -> Problem | None:
    return Problem(TOO_LONG, limit) if len(value) > limit else None


def check_text(value: str, limit: int) -> Problem | None:
    """Text a database can store (no NUL, valid Unicode) and at most `limit` characters, as
    sent (before any trimming)."""
    if len(value) > limit:
        return Problem(TOO_LONG, limit)
    if "\x00" in value:
        return Problem(NUL)
    if not value.isascii() and UNPAIRED_SURROGATE.search(value):
        return Problem(SURROGATE)
    return None


def check_url(value: str) -> Problem | None:
    """Empty, or an http:// or https:// URL of at most URL_MAX characters."""
    if len(value) > URL_MAX:
        return Problem(TOO_LONG, URL_MAX)
    if value and not HTTP_URL.fullmatch(value):
        return Problem(NOT_URL)
    return None


def check_webhook_url(value: str) -> Problem | None:
    """An http(s) URL with a host and no credentials in it (they would be logged and shown)."""
    problem = check_url(value)
    if problem or not value:
        return problem or Problem(NOT_URL)
    try:
        # urlsplit raises on an unbalanced IPv6 bracket ("http://[", "http://a]b"), .port on a
        # port out of range: either is not a URL a webhook can be sent to.
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018
    except ValueError:
        return Problem(NOT_URL)
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return Problem(NOT_URL)
    return None


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses
    (IPv4-mapped IPv6 included): a webhook must not reach into the portal's own network."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_endpoint(url: str, *, allow_private: bool) -> tuple[list[str], Problem | None]:
    """The addresses a webhook URL's host resolves to now, and the problem when it resolves
    to none or to any that is not public (checked at every delivery, after resolution, so a
    name that later points inward is refused then too)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return [], Problem(UNRESOLVABLE)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        return [], Problem(UNRESOLVABLE)
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                return addresses, Problem(PRIVATE_ADDRESS, address)
    return addresses, None


# `whsec_` and the base64 of 24 to 64 random bytes (Standard Webhooks' secret format).
WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_SECRET_BYTES = (24, 64)


def check_webhook_secret(value: str) -> Problem | None:
    if not value.startswith(WEBHOOK_SECRET_PREFIX):
        return Problem(BAD_SECRET)
    try:
        raw = base64.b64decode(value[len(WEBHOOK_SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return Problem(BAD_SECRET)
    low, high = WEBHOOK_SECRET_BYTES
    return None if low <= len(raw) <= high else Problem(BAD_SECRET)


def check_reference(value: str, prefix: str) -> Problem | None:
    """A canonical EC-/EP- reference (upper case, no spaces: see canonical_reference)."""
    return None if REFERENCES[prefix].match(value) else Problem(BAD_SHAPE, prefix)


def canonical_reference(value: str) -> str:
    """A reference as a person may have typed it, in the form it is stored in."""
    return value.strip().upper()


def check_country(value: str) -> Problem | None:
    """A two-letter ISO 3166 code, in canonical (upper) case."""
    return None if COUNTRY_CODE.match(value) else Problem(BAD_SHAPE, "country")


def check_status(value: object, lowest: int, highest: int) -> Problem | None:
    """A JSON integer (not a bool, not "3") within [lowest, highest]."""
    if isinstance(value, bool) or not isinstance(value, int):
        return Problem(NOT_INTEGER)
    if not lowest <= value <= highest:
        return Problem(OUT_OF_RANGE, (lowest, highest))
    return None


def check_event_time(value: dt.datetime, now: dt.datetime) -> Problem | None:
    """When an event may have happened: a moment with an offset, not before 2000, at most
    FUTURE_HOURS ahead of `now`."""
    if value.tzinfo is None or value.utcoffset() is None:
        return Problem(NO_OFFSET)
    if value < EARLIEST_EVENT:
        return Problem(TOO_EARLY, EARLIEST_EVENT)
    if value > now + FUTURE_TOLERANCE:
        return Problem(TOO_LATE, FUTURE_TOLERANCE)
    return None


def event_window_text() -> str:
    """The window as the schema documents it."""
    return f"not before {EARLIEST_EVENT.year} and at most {FUTURE_HOURS} hours ahead"


# -- Which packages a leg carries ----------------------------------------------------------------


def covers(
    *,
    leg_consignment_id: object,
    listed_package_ids: Collection | None,
    package_consignment_id: object,
    package_id: object,
) -> bool:
    """Whether a leg carries a package: only a package of the leg's own consignment, and then
    the packages the leg lists, or every one when it lists none.

    The consignment is part of the rule because a tracking number alone never proves which
    brand is meant: another brand's package on a leg with the same number is never carried."""
    if package_consignment_id != leg_consignment_id:
        return False
    return not listed_package_ids or package_id in listed_package_ids
