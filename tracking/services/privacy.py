"""A recipient's rights over their data: everything stored, exported on request; erased on
request, keeping the journey but not the person."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tracking.models import Consignment, OutboundEmail, TrackingEvent
from tracking.services.derivation import lock_consignment, mark_changed

PRIVATE_CONSIGNMENT_FIELDS = (
    "recipient_name",
    "recipient_email",
    "destination_address",
    "destination_postcode",
)


def export_consignment(consignment: Consignment) -> dict:
    """Everything stored about a consignment, for a subject-access request."""
    legs = consignment.legs.order_by("sequence", "created_utc").prefetch_related("packages")
    events = TrackingEvent.objects.filter(tracking_record__consignment=consignment).order_by(
        "occurred_at", "received_at", "id"
    )

    def when(value):
        return value.isoformat() if value else None

    return {
        "reference": consignment.reference,
        "id": str(consignment.pk),
        "brand": consignment.brand.slug,
        "customerReference": consignment.customer_reference,
        "recipient": {
            "name": consignment.recipient_name,
            "email": consignment.recipient_email,
            "address": consignment.destination_address,
            "town": consignment.destination_town,
            "postcode": consignment.destination_postcode,
            "country": consignment.destination_country,
        },
        "expectedDeliveryDate": when(consignment.expected_delivery_date),
        "status": consignment.status,
        "createdUtc": when(consignment.created_utc),
        "modifiedUtc": when(consignment.modified_utc),
        "packages": [
            {"reference": p.reference, "description": p.description, "status": p.status}
            for p in consignment.packages.order_by("sequence")
        ],
        "legs": [
            {
                "id": str(leg.pk),
                "carrierName": leg.carrier_name,
                "carrierServiceName": leg.carrier_service_name,
                "trackingNumber": leg.tracking_number,
                "trackingUrl": leg.tracking_url,
                "sequence": leg.sequence,
                "status": leg.status,
                "packages": [p.reference for p in leg.packages.all()],
            }
            for leg in legs
        ],
        "events": [
            {
                "leg": str(event.tracking_record_id),
                "package": event.package.reference if event.package else None,
                "occurredAt": when(event.occurred_at),
                "receivedAt": when(event.received_at),
                "code": event.code,
                "status": event.status,
                "description": event.description,
                "location": event.location,
                "signedBy": event.signed_by,
                "source": event.source,
            }
            for event in events.select_related("package")
        ],
        "emailSubscribers": [
            {
                "email": subscriber.email,
                "language": subscriber.language,
                "state": subscriber.state,
                "isRecipient": subscriber.is_recipient,
                "createdUtc": when(subscriber.created_utc),
                "confirmedUtc": when(subscriber.confirmed_at),
                "unsubscribedUtc": when(subscriber.unsubscribed_at),
                "emails": [
                    {
                        "kind": email.kind,
                        "state": email.state,
                        "triggers": email.triggers,
                        "createdUtc": when(email.created_utc),
                        "sentUtc": when(email.sent_at),
                    }
                    for email in subscriber.emails.order_by("created_utc")
                ],
            }
            for subscriber in consignment.email_subscribers.order_by("created_utc")
        ],
    }


@transaction.atomic
def erase_recipient(consignment: Consignment) -> None:
    """Erasure on request: the recipient's personal data goes, the journey stays, anonymised.

    Events keep their times, codes, descriptions and town-level locations (the carrier's and
    brand's records of the delivery) but lose the name of whoever signed; email subscribers
    and their emails (pending or sent) are deleted.
    """
    locked = lock_consignment(consignment.pk)
    for name in PRIVATE_CONSIGNMENT_FIELDS:
        setattr(locked, name, "")
    locked.save(update_fields=list(PRIVATE_CONSIGNMENT_FIELDS))
    # The one sanctioned change to stored events: removing personal data from them.
    TrackingEvent.objects.filter(tracking_record__consignment=locked).exclude(signed_by="").update(
        signed_by=""
    )
    # Whoever followed the parcel by email goes too, with every email owed or sent to them.
    OutboundEmail.objects.filter(subscriber__consignment=locked).delete()
    locked.email_subscribers.all().delete()
    mark_changed({locked.pk: locked.revision}, timezone.now())
