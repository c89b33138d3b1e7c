"""The back office (design §6, a face on floor 5): Django's admin on our own `site`, with the
model admins by subject: `brands` (brands and carriers), `consignments` (consignments, their
packages and legs), `events`, `codes` (carrier code mappings), `keys` (API keys), `webhooks`
(webhook subscriptions and their deliveries), `emails` (customer email subscribers, their emails,
suppressed addresses and the email previews), `desk` (the support desk's watchlist and
scorecard, and the carriers' thresholds), the staff input they check (`forms`) and the guard
every delete path shares (`append_only`). Statuses are derived and events append-only here as
everywhere: staff write through the same services the APIs use.

Django's admin autodiscovery imports this package; importing the modules registers them.
"""

from tracking.admin import brands, codes, consignments, desk, emails, events, keys, webhooks

__all__ = ["brands", "codes", "consignments", "desk", "emails", "events", "keys", "webhooks"]
