"""Addresses that must not be emailed again: the email provider's tracking events (through
django-anymail's signal, where a provider is configured) suppress an address that bounced,
complained or unsubscribed at the provider; `manage.py suppressemail` does it by hand."""

from __future__ import annotations

import logging

from tracking.services import notifications

logger = logging.getLogger(__name__)

SUPPRESSING = {"bounced", "complained", "rejected", "unsubscribed"}


def on_tracking(sender, event, esp_name, **kwargs) -> None:
    if event.event_type not in SUPPRESSING or not event.recipient:
        return
    cancelled = notifications.suppress(event.recipient, reason=f"{esp_name} {event.event_type}")
    logger.info(
        "suppressed an address after a %s %s event (%d pending emails cancelled)",
        esp_name,
        event.event_type,
        cancelled,
    )
