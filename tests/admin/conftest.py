"""Two brands' back-office data and the people who look at it: a superuser, brand staff of
"harbour" (made by `createstaff`, as an operator would), and a staff user of no brand."""

import io
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from tests.factories import add_events, make_consignment, make_leg
from tracking import services
from tracking.models import (
    ApiKey,
    Consignment,
    EmailSubscriber,
    OutboundEmail,
    Package,
    TrackingEvent,
    TrackingRecord,
    WebhookMessage,
    WebhookSubscription,
    WebhookType,
)
from tracking.services import notifications


@dataclass
class Holdings:
    """One brand's rows, one of each admin model."""

    consignment: Consignment
    package: Package
    leg: TrackingRecord
    event: TrackingEvent
    key: ApiKey
    subscription: WebhookSubscription
    message: WebhookMessage  # the subscription's one message: the event's tracking.updated
    subscriber: EmailSubscriber  # a customer who asked on the page, not yet confirmed
    email: OutboundEmail  # the subscriber's one email: the confirmation


def subscribe(brand, url: str, **fields) -> WebhookSubscription:
    """A subscription through the service, to a loopback address (allowed for tests only)."""
    with override_settings(WEBHOOK_ALLOW_PRIVATE=True):
        subscription, _secret = services.create_subscription(brand=brand, url=url, **fields)
    return subscription


def holdings(brand, carrier, n: int) -> Holdings:
    consignment = make_consignment(
        brand,
        packages=2,
        customer_reference=f"ORDER-{brand.slug.upper()}",
        recipient_name=f"Alex Morgan {n}",
        recipient_email=f"alex.morgan{n}@example.com",
        destination_postcode=f"BS{n} 4DJ",
    )
    leg = make_leg(consignment, carrier=carrier, tracking_number=f"TN-{brand.slug.upper()}")
    subscription = subscribe(
        brand,
        f"http://127.0.0.1:9/{brand.slug}/hooks",
        event_types=[WebhookType.TRACKING_UPDATED],
    )
    add_events(leg, (1, "IN_TRANSIT", f"At {brand.name}'s hub"))
    key, _ = services.issue_api_key(name=f"{brand.name} shop", brand=brand)
    notifications.sign_up(
        consignment=consignment,
        email=f"Sam.Fisher{n}@Example.com",
        language="de",
        client=f"203.0.113.{n}",
    )
    subscriber = consignment.email_subscribers.get()
    return Holdings(
        consignment=consignment,
        package=consignment.packages.order_by("sequence").first(),
        leg=leg,
        event=leg.events.get(),
        key=key,
        subscription=subscription,
        message=subscription.messages.get(),
        subscriber=subscriber,
        email=subscriber.emails.get(),
    )


@pytest.fixture
def ours(brand, carrier) -> Holdings:
    return holdings(brand, carrier, 1)


@pytest.fixture
def theirs(other_brand, other_carrier) -> Holdings:
    return holdings(other_brand, other_carrier, 2)


def login(django_user_model, username: str) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.get(username=username))
    return client


@pytest.fixture
def brand_staff(brand, django_user_model, monkeypatch) -> Client:
    """Logged in as "harbour" brand staff, made by the operators' command."""
    monkeypatch.setenv("PORTAL_PASSWORD", "a long staff password")
    call_command("createstaff", "hazel", "--brand", brand.slug, stdout=io.StringIO())
    return login(django_user_model, "hazel")


@pytest.fixture
def staff_of_no_brand(django_user_model) -> Client:
    """A staff user with every model permission and no brand: sees nothing all the same."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("nobody", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="tracking"))
    return login(django_user_model, "nobody")


@pytest.fixture
def superuser(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client
