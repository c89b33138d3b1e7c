"""Value rules worded for the write paths: the rules are tracking.fields' and tracking.status';
these raise them as a ValidationError keyed by the field name, so every service refuses a bad
value in the same words (and the faces reuse the wording through rule_message).
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError

from tracking import fields
from tracking import status as rules


def _refuse(field_name: str, problem: fields.Problem | None) -> None:
    if problem is not None:
        raise ValidationError({field_name: rule_message(problem)})


def rule_message(problem: fields.Problem) -> str:
    """A fields.Problem as services words it: "<field> <this>" reads as a sentence."""
    match problem.code:
        case fields.TOO_LONG:
            return f"must be at most {problem.limit} characters"
        case fields.NOT_INTEGER:
            return "must be an integer"
        case fields.OUT_OF_RANGE:
            return "must be between {} and {}".format(*problem.limit)
        case fields.NOT_URL:
            return "must be an http:// or https:// URL"
        case fields.BAD_SHAPE if problem.limit == "country":
            return "must be a two-letter ISO country code"
        case fields.BAD_SHAPE:
            return f"must look like {problem.limit}-XXX-XXX-XXX"
        case fields.PRIVATE_ADDRESS:
            return (
                f"must not point at a loopback, private or link-local address"
                f" (it resolves to {problem.limit})"
            )
        case fields.UNRESOLVABLE:
            return "must name a host that resolves"
        case fields.BAD_SECRET:
            low, high = fields.WEBHOOK_SECRET_BYTES
            return f"must be whsec_ followed by the base64 of {low} to {high} random bytes"
        case fields.NO_OFFSET:
            return "must include a UTC offset"
        case fields.TOO_EARLY:
            return f"must not be before the year {problem.limit.year}"
        case fields.TOO_LATE:
            return f"must not be more than {fields.FUTURE_HOURS} hours in the future"
    raise AssertionError(f"no wording for {problem}")


def check_length(field_name: str, value: str, limit: int) -> None:
    _refuse(field_name, fields.check_length(value, limit))


def check_status(field_name: str, value: int) -> None:
    _refuse(field_name, fields.check_status(value, rules.STATUS_MIN, rules.STATUS_MAX))


def check_url(field_name: str, value: str) -> None:
    _refuse(field_name, fields.check_url(value))


def check_webhook_url(field_name: str, value: str, *, allow_private: bool) -> None:
    """The URL's shape, then where its host resolves to now."""
    _refuse(field_name, fields.check_webhook_url(value))
    _refuse(field_name, fields.resolve_endpoint(value, allow_private=allow_private)[1])


def check_webhook_secret(field_name: str, value: str) -> None:
    _refuse(field_name, fields.check_webhook_secret(value))


def check_occurred_at(field_name: str, value: dt.datetime, now: dt.datetime) -> None:
    _refuse(field_name, fields.check_event_time(value, now))


def check_country(field_name: str, value: str) -> None:
    _refuse(field_name, fields.check_country(value))


def check_reference(field_name: str, value: str, prefix: str) -> None:
    _refuse(field_name, fields.check_reference(value, prefix))


def check_code(field_name: str, value: str) -> str:
    try:
        return rules.normalise_code(value)
    except ValueError as error:
        raise ValidationError({field_name: str(error)}) from None
