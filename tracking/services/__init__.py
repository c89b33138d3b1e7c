"""Every write: atomic, row-locked where two writers could race, idempotent where retried.

Pages, both APIs, the admin and the management commands change data only through these
functions, so the status rules run in the same transaction as the events that drive them.
Bad values raise ValidationError keyed by the field name. Callers import from here; the
modules of this package are how it is organised, not what it offers.
"""

from django.core.exceptions import ValidationError

from tracking.services.checks import (
    check_code,
    check_length,
    check_occurred_at,
    check_status,
    check_url,
    check_webhook_url,
    rule_message,
)
from tracking.services.consignments import PackageSpec, create_consignment
from tracking.services.derivation import rederive
from tracking.services.events import EventSpec, StoreResult, record_event, record_events
from tracking.services.keys import ROTATION_GRACE, issue_api_key, rotate_api_key
from tracking.services.legs import LEG_FIELDS, add_leg, set_leg_status, update_leg
from tracking.services.mappings import (
    UNMAPPED_LIMIT,
    MappingResult,
    map_code,
    unmap_code,
    unmapped_codes,
    unmapped_events,
)
from tracking.services.privacy import (
    PRIVATE_CONSIGNMENT_FIELDS,
    erase_recipient,
    export_consignment,
)
from tracking.services.webhooks import (
    check_event_types,
    create_subscription,
    delete_subscription,
    disable_subscription,
    enable_subscription,
    replay,
    replay_failed_since,
    rotate_secret,
    send_test,
    update_subscription,
)

__all__ = [
    "LEG_FIELDS",
    "PRIVATE_CONSIGNMENT_FIELDS",
    "ROTATION_GRACE",
    "UNMAPPED_LIMIT",
    "EventSpec",
    "MappingResult",
    "PackageSpec",
    "StoreResult",
    "ValidationError",
    "add_leg",
    "check_code",
    "check_length",
    "check_occurred_at",
    "check_status",
    "check_url",
    "check_webhook_url",
    "check_event_types",
    "create_consignment",
    "create_subscription",
    "delete_subscription",
    "disable_subscription",
    "enable_subscription",
    "replay",
    "replay_failed_since",
    "rotate_secret",
    "send_test",
    "update_subscription",
    "erase_recipient",
    "export_consignment",
    "issue_api_key",
    "map_code",
    "record_event",
    "record_events",
    "rederive",
    "rotate_api_key",
    "rule_message",
    "set_leg_status",
    "unmap_code",
    "unmapped_codes",
    "unmapped_events",
    "update_leg",
]
