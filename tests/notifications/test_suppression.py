"""Suppressed addresses: from the provider's tracking signal (django-anymail) and by hand; and
what erasure and export do with subscribers and their emails."""

import io

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.core.management import call_command

from tracking import services
from tracking.models import EmailState, OutboundEmail, SuppressedAddress
from tracking.services import notifications

pytestmark = pytest.mark.django_db


def sign_up(consignment, email="sam@example.com"):
    notifications.sign_up(consignment=consignment, email=email, language="en", client="192.0.2.1")


@pytest.mark.parametrize("kind", ["bounced", "complained"])
def test_a_bounce_or_complaint_from_the_provider_suppresses(consignment, kind):
    sign_up(consignment)
    event = AnymailTrackingEvent(event_type=kind, recipient="Sam@Example.com")
    tracking.send(sender=object, event=event, esp_name="Postmark")
    assert SuppressedAddress.objects.get().email == "sam@example.com"
    assert OutboundEmail.objects.get().state == EmailState.CANCELLED


def test_a_delivery_report_suppresses_nothing(consignment):
    event = AnymailTrackingEvent(event_type="delivered", recipient="sam@example.com")
    tracking.send(sender=object, event=event, esp_name="Postmark")
    assert not SuppressedAddress.objects.exists()


def test_the_command_suppresses_and_lifts(consignment):
    sign_up(consignment)
    out = io.StringIO()
    call_command("suppressemail", "SAM@example.com", "--reason", "bounce", stdout=out)
    assert "1 pending email(s) cancelled" in out.getvalue()
    assert SuppressedAddress.objects.get().reason == "bounce"
    call_command("suppressemail", "sam@example.com", "--remove", stdout=out)
    assert not SuppressedAddress.objects.exists()


def test_export_and_erasure_cover_subscribers_and_their_emails(consignment):
    sign_up(consignment)
    exported = services.export_consignment(consignment)
    [subscriber] = exported["emailSubscribers"]
    assert subscriber["email"] == "sam@example.com"
    assert subscriber["emails"][0]["kind"] == "confirm"
    services.erase_recipient(consignment)
    assert not consignment.email_subscribers.exists()
    assert not OutboundEmail.objects.exists()
    assert services.export_consignment(consignment)["emailSubscribers"] == []
