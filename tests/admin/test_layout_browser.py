"""Every back-office list and change page fits 1280 px (design section 7.5), measured in a real
browser: the document never scrolls sideways and no table is wider than its box. Pages are
opened as a superuser (who sees the most columns) with a few rows of realistic data."""

import os

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from tests import browser as debian

if not debian.available():
    pytest.skip(debian.MISSING, allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.factories import (  # noqa: E402
    CarrierFactory,
    add_events,
    at,
    make_consignment,
    make_leg,
)
from tracking import services  # noqa: E402
from tracking.models import (  # noqa: E402
    Brand,
    CodeMapping,
    EmailKind,
    EmailState,
    MessageState,
    OutboundEmail,
    WebhookAttempt,
    WebhookMessage,
    WebhookSubscription,
)
from tracking.services import notifications  # noqa: E402

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW = """() => {
  const doc = document.documentElement;
  const wide = [];
  for (const table of document.querySelectorAll("table")) {
    const box = table.parentElement;
    if (table.offsetWidth > box.clientWidth + 1) {
      const name = table.id || table.className || "table";
      wide.push(`${name}: ${table.offsetWidth} px in ${box.clientWidth} px`);
    }
  }
  return {scroll: doc.scrollWidth, client: doc.clientWidth, wide};
}"""


LONG_ANSWER = (
    '{"error":{"code":"ENDPOINT_UNAVAILABLE","message":"The order-status service behind this '
    'gateway did not answer within 8000 ms; the request was not processed.","requestId":'
    '"0f6c1d2e-9a7b-4c3d-8e5f-112233445566"}}'
)


def webhooks(brand, settings) -> None:
    """Two subscriptions, one disabled and failing, whose messages have several attempts each
    (long answers and errors among them)."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    hook = "http://127.0.0.1:9/integrations/harbour-and-pine/order-status/webhooks/tracking-events"
    active, _ = services.create_subscription(brand=brand, url=hook)
    failing, _ = services.create_subscription(
        brand=brand,
        url=hook + "?tenant=harbour-and-pine-homeware-outlet",
        event_types=["tracking.updated"],
    )
    consignment = make_consignment(brand, packages=3, customer_reference="ORDER-2026-WEBHOOKS")
    add_events(make_leg(consignment), (1, "IN_TRANSIT", "Arrived at the hub"))
    for sub in (active, failing):
        services.send_test(sub)
    services.rotate_secret(failing)
    services.disable_subscription(
        failing, reason=f"every delivery failed since {at(0):%Y-%m-%d %H:%M} UTC"
    )
    for n, message in enumerate(WebhookMessage.objects.order_by("pk")):
        answers = [(1, 503, ""), (2, None, "timed out after 10 s"), (3, 503 if n % 2 else 200, "")]
        WebhookMessage.objects.filter(pk=message.pk).update(
            state=MessageState.FAILED if n % 2 else MessageState.DELIVERED,
            delivered_at=None if n % 2 else at(3),
            attempt_count=len(answers),
            last_status=answers[-1][1],
        )
        for hours, status, error in answers:
            WebhookAttempt.objects.create(
                message=message,
                attempted_at=at(hours),
                status_code=status,
                duration_ms=10_000 if status is None else 843,
                response_excerpt=LONG_ANSWER if status == 503 else "",
                error=error,
            )


def customer_emails(brand) -> None:
    """Subscribers with long addresses in each language, one the recipient, whose updates were
    sent, failed (with a long error) or are pending; a long suppressed address."""
    brand.notify_recipient = True
    brand.save(update_fields=["notify_recipient"])
    consignment = make_consignment(
        brand,
        packages=2,
        customer_reference="ORDER-2026-EMAILS",
        recipient_email="alexandra.morgan-fitzwilliam.recipient@example-mail.co.uk",
    )
    leg = make_leg(consignment)
    for n, language in enumerate(["en", "de", "fr", "es"]):
        notifications.sign_up(
            consignment=consignment,
            email=f"christopher.alexander.montgomery-smythe{n}@harbour-and-pine-customers.co.uk",
            language=language,
            client=f"203.0.113.{n}",
        )
    for subscriber in consignment.email_subscribers.all()[:3]:
        notifications.confirm(subscriber)
    add_events(leg, (1, "COLLECTED_BY_CARRIER", "Collected from the Harbour & Pine warehouse"))
    add_events(leg, (2, "OUT_FOR_DELIVERY", "With the driver, expected between 10:00 and 12:00"))
    for n, email in enumerate(OutboundEmail.objects.filter(kind=EmailKind.UPDATE).order_by("pk")):
        if n % 2:
            OutboundEmail.objects.filter(pk=email.pk).update(
                state=EmailState.FAILED,
                attempts=6,
                last_error="SMTPRecipientsRefused: 550 5.1.1 The email account that you tried "
                "to reach does not exist; please try double-checking the recipient's address",
            )
        else:
            OutboundEmail.objects.filter(pk=email.pk).update(
                state=EmailState.SENT, attempts=1, sent_at=at(3)
            )
    notifications.suppress(
        "christopher.alexander.montgomery-smythe3@harbour-and-pine-customers.co.uk",
        reason="amazonses Bounce (permanent, general)",
    )


@pytest.fixture
def desk_data(transactional_db, django_user_model, settings):
    django_user_model.objects.create_superuser("admin", "", "layout-password")
    brand = Brand.objects.create(slug="harbour", name="Harbour & Pine Homeware Outlet")
    carriers = [
        CarrierFactory(code="NORTHLINE_EXPRESS", name="Northline Express Parcels"),
        CarrierFactory(code="CITYHOP", name="CityHop Same Day"),
    ]
    for n in range(4):
        consignment = make_consignment(
            brand,
            packages=3,
            customer_reference=f"ORDER-2026-0000{n}-WEB",
            recipient_name="Alexandra Morgan-Fitzwilliam",
            recipient_email=f"alexandra.morgan-fitzwilliam{n}@example-mail.co.uk",
            destination_postcode="BS1 4DJ",
            destination_town="Bristol",
            destination_address="Flat 12, 100 Harbourside Long Street Name",
            destination_country="GB",
        )
        for carrier in carriers:
            leg = make_leg(
                consignment,
                carrier=carrier,
                tracking_number=f"{carrier.code[:4]}0000{n}123456789",
                carrier_service_name="Next day before noon, signature required",
                tracking_url="https://tracking.example.com/parcels/very/long/path?number=1234567890",
            )
            add_events(
                leg,
                (1, "IN_TRANSIT", "Arrived at the Northline hub in Avonmouth, sorted for delivery"),
                (2, "OUT_FOR_DELIVERY", "With the driver, expected between 10:00 and 12:00"),
                (3, "ZUGESTELLT_AN_NACHBARN", "Zugestellt an Nachbarn im Haus gegenüber"),
            )
        services.issue_api_key(name=f"Harbour & Pine shop integration {n}", brand=brand)
    services.issue_api_key(name="Northline Express Parcels event feed", carrier=carriers[0])
    CodeMapping.objects.create(carrier=carriers[0], code="ZUGESTELLT", maps_to="DELIVERED")
    webhooks(brand, settings)
    customer_emails(brand)
    return brand


def pages(superuser) -> list[str]:
    """Every tracking admin's list, add page (where there is one) and the change page of its
    first row."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    found = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "tracking":
            continue
        name = f"admin:tracking_{model._meta.model_name}"
        found.append(reverse(f"{name}_changelist"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            found.append(reverse(f"{name}_change", args=[first.pk]))
        if model_admin.has_add_permission(request):
            found.append(reverse(f"{name}_add"))
    return found


def test_every_list_and_change_page_fits_1280_px(desk_data, live_server, django_user_model):
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=debian.CHROMIUM, args=debian.ARGS)
        context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
        page = context.new_page()
        page.goto(f"{live_server.url}{reverse('admin:login')}")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "layout-password")
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        problems = []
        first = WebhookSubscription.objects.order_by("pk").first()
        opened = [
            *pages(django_user_model.objects.get(username="admin")),
            reverse("admin:tracking_webhooksubscription_replay", args=[first.pk]),
            reverse("admin:email_previews"),
        ]
        for path in opened:
            response = page.goto(f"{live_server.url}{path}")
            if response.status != 200:
                problems.append(f"{path}: HTTP {response.status}")
                continue
            measured = page.evaluate(OVERFLOW)
            if measured["scroll"] > measured["client"]:
                problems.append(f"{path}: {measured['scroll']} px wide in {measured['client']}")
            problems += [f"{path}: {wide}" for wide in measured["wide"]]
        chromium.close()
    assert len(opened) >= 20
    assert problems == []
