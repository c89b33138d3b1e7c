"""Customer emails in the back office (design sections 7.4 and 7.5): subscribers listed,
searched and filtered, unsubscribed and their addresses suppressed through the services; their
emails read-only with a preview whose HTML is framed in a sandbox; suppressed addresses for
superusers (added through the service, lifted by deleting); the previews page, which renders
every email in every language and writes nothing; the brand's option to notify recipients.
Brand staff do all of it to their brand's rows only."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from tests.factories import add_events, make_consignment
from tracking.delivery.email_content import compose
from tracking.models import (
    BrandStaff,
    EmailKind,
    EmailState,
    EmailSubscriber,
    OutboundEmail,
    SubscriberState,
    SuppressedAddress,
)
from tracking.services import notifications

pytestmark = pytest.mark.django_db

SUBSCRIBERS = "admin:tracking_emailsubscriber"
EMAILS = "admin:tracking_outboundemail"
SUPPRESSED = "admin:tracking_suppressedaddress"
PREVIEWS = "admin:email_previews"
LANGUAGES = ["English", "Deutsch", "Français", "Español"]
EVERY_EMAIL = [
    "confirm",
    "dispatched",
    "out_for_delivery",
    "delivered",
    "attempted",
    "exception",
    "delay",
]


def url(name: str, *args) -> str:
    return reverse(name, args=[quote(arg) for arg in args])


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def notes(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def listed(client, name: str, **params) -> list:
    response = client.get(url(f"{name}_changelist"), params)
    assert response.status_code == 200, response.status_code
    return list(response.context["cl"].result_list)


def act(client, name: str, action: str, *rows):
    return client.post(
        url(f"{name}_changelist"),
        {"action": action, ACTION_CHECKBOX_NAME: [row.pk for row in rows], "index": 0},
        follow=True,
    )


def an_update(holdings, *steps) -> OutboundEmail:
    """Confirm the holdings' subscriber, then store events, one write each: the pending
    update they owe it."""
    notifications.confirm(holdings.subscriber)
    for step in steps:
        add_events(holdings.leg, step)
    return holdings.subscriber.emails.get(kind=EmailKind.UPDATE)


def policy(response) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in response["Content-Security-Policy"].split(";"))
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts if p[0]}


@pytest.fixture
def view_only(brand, django_user_model) -> Client:
    """Staff of our brand who may view subscribers and emails, and change nothing."""
    user = django_user_model.objects.create_user("vera", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_emailsubscriber", "view_outboundemail"])
    )
    BrandStaff.objects.create(user=user, brand=brand)
    client = Client()
    client.force_login(user)
    return client


# -- Subscribers ----------------------------------------------------------------------------


def test_the_subscriber_list_says_who_hears_about_what(brand_staff, ours, theirs):
    body = page(brand_staff.get(url(f"{SUBSCRIBERS}_changelist")))
    sub = ours.subscriber
    assert sub.email == "sam.fisher1@example.com"  # signed up as Sam.Fisher1@Example.com
    assert sub.email in body
    consignment = url("admin:tracking_consignment_change", ours.consignment.pk)
    assert f'<a href="{consignment}">{ours.consignment.reference}</a>' in body
    assert "Deutsch" in body and "Pending: not confirmed yet" in body
    assert theirs.subscriber.email not in body
    assert "Harbour &amp; Pine" not in body  # brand staff see one brand: no brand column
    assert "Elsewhere" not in body  # nor a brand filter naming the other


def test_subscribers_are_found_by_whole_address_or_reference(brand_staff, ours):
    sub = ours.subscriber
    for term in (sub.email, sub.email.upper(), f"  {ours.consignment.reference.lower()} "):
        assert [s.pk for s in listed(brand_staff, SUBSCRIBERS, q=term)] == [sub.pk], term
    for term in ("Sam.Fisher", "example.com", "EC-XXX-XXX-XXX"):
        assert listed(brand_staff, SUBSCRIBERS, q=term) == [], term


def test_subscribers_are_filtered_by_state_and_language(brand_staff, ours):
    sub = ours.subscriber
    assert listed(brand_staff, SUBSCRIBERS, state__exact="pending") == [sub]
    assert listed(brand_staff, SUBSCRIBERS, state__exact="confirmed") == []
    assert listed(brand_staff, SUBSCRIBERS, language__exact="de") == [sub]
    assert listed(brand_staff, SUBSCRIBERS, language__exact="fr") == []


def test_the_subscriber_list_costs_a_fixed_number_of_queries(admin_client, brand):
    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert admin_client.get(url(f"{SUBSCRIBERS}_changelist")).status_code == 200
        return len(context.captured_queries)

    def populate(count: int, start: int):
        for n in range(start, start + count):
            consignment = make_consignment(brand)
            notifications.sign_up(
                consignment=consignment, email=f"c{n}@example.com", language="en", client=f"c{n}"
            )
        notifications.suppress(f"c{start}@example.com", reason="bounced")

    populate(2, 0)
    small = queries()
    populate(20, 2)
    # The session and user, the brand filter's choices, two counts and the page (the
    # suppression of each row's address is a subquery of the page's query).
    assert small == queries() == 6


def test_a_subscribers_page_is_read_only_and_lists_its_emails(brand_staff, ours):
    email = an_update(ours, (2, "OUT_FOR_DELIVERY", "With the driver"))
    OutboundEmail.objects.filter(pk=email.pk).update(attempts=2, last_error="451 try again later")
    change = url(f"{SUBSCRIBERS}_change", ours.subscriber.pk)
    body = page(brand_staff.get(change))
    assert 'name="email"' not in body and 'name="_save"' not in body
    assert "Asked on the tracking page" in body and "Not suppressed." in body
    assert f'<a href="{url(f"{EMAILS}_change", email.pk)}">Update</a>' in body
    assert "Out for delivery" in body and "451 try again later" in body
    assert f'<a href="{url(f"{EMAILS}_change", ours.email.pk)}">Confirmation</a>' in body
    assert url(f"{SUBSCRIBERS}_unsubscribe", ours.subscriber.pk) in body
    assert url(f"{SUBSCRIBERS}_suppress", ours.subscriber.pk) in body
    # A post to the change page saves nothing.
    brand_staff.post(change, {"email": "x@example.com", "language": "fr", "state": "confirmed"})
    ours.subscriber.refresh_from_db()
    assert (ours.subscriber.email, ours.subscriber.language) == ("sam.fisher1@example.com", "de")
    assert brand_staff.get(url(f"{SUBSCRIBERS}_add")).status_code == 403


def test_unsubscribing_from_the_list_goes_through_the_service(brand_staff, ours, theirs):
    response = act(brand_staff, SUBSCRIBERS, "unsubscribe_selected", ours.subscriber)
    ours.subscriber.refresh_from_db()
    assert ours.subscriber.state == SubscriberState.UNSUBSCRIBED
    assert ours.subscriber.unsubscribed_at is not None
    assert OutboundEmail.objects.get(pk=ours.email.pk).state == EmailState.CANCELLED
    assert notes(response) == ["Unsubscribed 1 subscriber; what was pending to them is cancelled."]
    entry = LogEntry.objects.get(object_id=str(ours.subscriber.pk))
    assert entry.get_change_message() == "Unsubscribed in the back office."
    again = act(brand_staff, SUBSCRIBERS, "unsubscribe_selected", ours.subscriber)
    assert "1 was already unsubscribed." in notes(again)[0]
    # Another brand's subscriber, named in the post, is not touched.
    act(brand_staff, SUBSCRIBERS, "unsubscribe_selected", theirs.subscriber)
    theirs.subscriber.refresh_from_db()
    assert theirs.subscriber.state == SubscriberState.PENDING


def test_suppressing_from_the_list_records_who_did(brand_staff, ours, theirs):
    response = act(brand_staff, SUBSCRIBERS, "suppress_selected", ours.subscriber)
    suppressed = SuppressedAddress.objects.get()
    assert (suppressed.email, suppressed.reason) == ("sam.fisher1@example.com", "staff: hazel")
    assert OutboundEmail.objects.get(pk=ours.email.pk).state == EmailState.CANCELLED
    assert OutboundEmail.objects.get(pk=theirs.email.pk).state == EmailState.PENDING
    [note] = notes(response)
    assert note.startswith("Suppressed sam.fisher1@example.com: nothing more is sent to it")
    assert "by any brand" in note
    body = page(brand_staff.get(url(f"{SUBSCRIBERS}_changelist")))
    assert "Pending: not confirmed yet · address suppressed" in body
    again = act(brand_staff, SUBSCRIBERS, "suppress_selected", ours.subscriber)
    assert notes(again) == ["sam.fisher1@example.com was already suppressed."]
    assert SuppressedAddress.objects.get().reason == "staff: hazel"


def test_suppressing_tells_brand_staff_nothing_of_other_brands_emails(brand_staff, ours, theirs):
    # The other brand has an email pending to the same address: the service cancels it too,
    # and the note counts nothing (no brand learns of another's emails).
    notifications.sign_up(
        consignment=theirs.consignment, email=ours.subscriber.email, language="en", client="x"
    )
    response = act(brand_staff, SUBSCRIBERS, "suppress_selected", ours.subscriber)
    assert notes(response) == [
        "Suppressed sam.fisher1@example.com: nothing more is sent to it, by any brand, and what "
        "was pending is cancelled. Only an administrator can lift a suppression."
    ]
    assert not OutboundEmail.objects.filter(
        subscriber__email__iexact=ours.subscriber.email, state=EmailState.PENDING
    ).exists()


def test_the_subscribers_buttons_post_and_act_on_their_own_brand_only(brand_staff, ours, theirs):
    mine = ours.subscriber
    assert brand_staff.get(url(f"{SUBSCRIBERS}_unsubscribe", mine.pk)).status_code == 405
    assert brand_staff.get(url(f"{SUBSCRIBERS}_suppress", mine.pk)).status_code == 405
    for action in ("unsubscribe", "suppress"):
        assert (
            brand_staff.post(url(f"{SUBSCRIBERS}_{action}", theirs.subscriber.pk)).status_code
            == 404
        )
    theirs.subscriber.refresh_from_db()
    assert theirs.subscriber.state == SubscriberState.PENDING
    assert not SuppressedAddress.objects.exists()

    response = brand_staff.post(url(f"{SUBSCRIBERS}_unsubscribe", mine.pk), follow=True)
    assert response.redirect_chain[-1][0] == url(f"{SUBSCRIBERS}_change", mine.pk)
    assert notes(response) == [
        f"Unsubscribed {mine.email}: nothing more is sent to them about "
        f"{ours.consignment.reference}; what was pending is cancelled."
    ]
    body = page(brand_staff.post(url(f"{SUBSCRIBERS}_suppress", mine.pk), follow=True))
    assert SuppressedAddress.objects.get().email == mine.email.lower()
    # Done: neither button is offered again.
    assert url(f"{SUBSCRIBERS}_unsubscribe", mine.pk) not in body
    assert url(f"{SUBSCRIBERS}_suppress", mine.pk) not in body
    assert "Only an administrator can lift it." in body


def test_staff_who_may_only_view_cannot_unsubscribe_or_suppress(view_only, ours):
    sub = ours.subscriber
    body = page(view_only.get(url(f"{SUBSCRIBERS}_change", sub.pk)))
    assert url(f"{SUBSCRIBERS}_unsubscribe", sub.pk) not in body
    assert view_only.post(url(f"{SUBSCRIBERS}_unsubscribe", sub.pk)).status_code == 403
    assert view_only.post(url(f"{SUBSCRIBERS}_suppress", sub.pk)).status_code == 403
    response = view_only.get(url(f"{SUBSCRIBERS}_changelist"))
    assert "unsubscribe_selected" not in response.content.decode()
    sub.refresh_from_db()
    assert sub.state == SubscriberState.PENDING and not SuppressedAddress.objects.exists()


# -- Notification emails --------------------------------------------------------------------


def test_the_email_list_is_read_only_filtered_and_searched(brand_staff, ours, theirs):
    update = an_update(ours, (2, "OUT_FOR_DELIVERY"), (3, "DELIVERED"))
    body = page(brand_staff.get(url(f"{EMAILS}_changelist")))
    assert "Out for delivery, Delivered" in body and "Confirmation" in body
    assert "Pending: due" in body and theirs.subscriber.email not in body
    assert 'name="action"' not in body  # nothing to do to an email
    assert listed(brand_staff, EMAILS, kind__exact="update") == [update]
    assert listed(brand_staff, EMAILS, state__exact="sent") == []
    assert set(listed(brand_staff, EMAILS, q=ours.subscriber.email.upper())) == {
        update,
        ours.email,
    }
    assert listed(
        brand_staff, EMAILS, q=ours.consignment.reference.lower(), kind__exact="confirm"
    ) == [ours.email]
    assert brand_staff.get(url(f"{EMAILS}_add")).status_code == 403
    assert brand_staff.get(url(f"{EMAILS}_delete", update.pk)).status_code == 403


def test_an_emails_page_shows_its_preview_in_a_sandboxed_frame(brand_staff, ours, settings):
    settings.PUBLIC_URL = "https://track.example.com"
    email = an_update(ours, (2, "OUT_FOR_DELIVERY", 'Driver says: <script>alert("x")</script>'))
    OutboundEmail.objects.filter(pk=email.pk).update(
        state=EmailState.SENT, attempts=1, sent_at=email.due_at
    )
    response = brand_staff.get(url(f"{EMAILS}_change", email.pk))
    body = page(response)
    assert f"Update to {ours.subscriber.email}" in body
    assert f"&lt;{email.pk}@track.example.com&gt;" in body  # the Message-ID header
    assert "the body sent is not stored" in body
    assert '<iframe sandbox="" srcdoc="&lt;!DOCTYPE html&gt;' in body
    # The email's own escaping, escaped once more for the attribute; the text part escaped.
    assert "<script>alert" not in body
    assert "&amp;lt;script&amp;gt;alert(&amp;quot;x&amp;quot;)" in body
    assert "Driver says: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    subject = compose(email).subject  # in the subscriber's language
    assert subject.startswith("Harbour & Pine: ") and "Out for delivery" not in subject
    assert escape(subject) in body
    assert f"/track/{ours.consignment.reference}/?lang=de" in body
    # Style attributes are allowed on this page (the frame keeps its policy); scripts are not.
    csp = policy(response)
    assert csp["style-src-attr"] == "'unsafe-inline'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert "style-src-attr" not in policy(brand_staff.get(url(f"{SUBSCRIBERS}_changelist")))


def test_an_emails_page_costs_a_fixed_number_of_queries(
    brand_staff, ours, django_assert_num_queries
):
    change = url(f"{EMAILS}_change", ours.email.pk)
    brand_staff.get(change)
    # The session, the user, their brand, the email with its subscriber, consignment and
    # brand, the user's permissions (two), and the timeline compose reads (two).
    with django_assert_num_queries(8):
        page(brand_staff.get(change))


# -- Suppressed addresses -------------------------------------------------------------------


def test_suppressed_addresses_are_for_superusers_only(brand_staff, staff_of_no_brand, superuser):
    notifications.suppress("bounced@example.com", reason="postmark bounced")
    row = SuppressedAddress.objects.get()
    for client in (brand_staff, staff_of_no_brand):
        assert client.get(url(f"{SUPPRESSED}_changelist")).status_code == 403
        assert client.get(url(f"{SUPPRESSED}_add")).status_code == 403
        assert client.get(url(f"{SUPPRESSED}_change", row.pk)).status_code == 403
    body = page(superuser.get(url(f"{SUPPRESSED}_changelist")))
    assert "bounced@example.com" in body and "postmark bounced" in body
    assert "Suppressed addresses" not in page(brand_staff.get(reverse("admin:index")))


def test_a_superuser_suppresses_through_the_service(superuser, ours, theirs):
    response = superuser.post(
        url(f"{SUPPRESSED}_add"), {"email": " SAM.Fisher1@Example.COM ", "reason": ""}, follow=True
    )
    row = SuppressedAddress.objects.get()
    assert (row.email, row.reason) == ("sam.fisher1@example.com", "staff: admin")
    assert "1 pending email to sam.fisher1@example.com cancelled." in notes(response)
    assert OutboundEmail.objects.get(pk=ours.email.pk).state == EmailState.CANCELLED
    assert OutboundEmail.objects.get(pk=theirs.email.pk).state == EmailState.PENDING
    assert LogEntry.objects.get(object_id=str(row.pk)).is_addition()
    refused = superuser.post(url(f"{SUPPRESSED}_add"), {"email": "sam.fisher1@EXAMPLE.com"})
    assert refused.context["adminform"].form.errors["email"] == [
        "This address is suppressed already."
    ]
    superuser.post(url(f"{SUPPRESSED}_add"), {"email": "x@example.com", "reason": "asked by phone"})
    assert SuppressedAddress.objects.get(email="x@example.com").reason == "asked by phone"
    assert [r.pk for r in listed(superuser, SUPPRESSED, q="SAM.FISHER1@example.com")] == [row.pk]


def test_a_suppression_is_read_only_and_lifted_by_deleting_it(superuser):
    notifications.suppress("bounced@example.com", reason="postmark bounced")
    row = SuppressedAddress.objects.get()
    body = page(superuser.get(url(f"{SUPPRESSED}_change", row.pk)))
    assert 'name="email"' not in body and "postmark bounced" in body
    superuser.post(url(f"{SUPPRESSED}_delete", row.pk), {"post": "yes"})
    assert not notifications.is_suppressed("bounced@example.com")


# -- The previews page ----------------------------------------------------------------------


def test_the_previews_render_every_email_in_every_language(brand_staff, ours, theirs):
    response = brand_staff.get(reverse(PREVIEWS))
    body = page(response)
    rows = response.context["rows"]
    assert [row.key for row in rows] == EVERY_EMAIL
    assert all([p.language_name for p in row.previews] == LANGUAGES for row in rows)
    assert body.count('<iframe sandbox="" srcdoc=') == 28
    for key in EVERY_EMAIL:
        for language in ("en", "de", "fr", "es"):
            assert f'id="{key}-{language}"' in body
    assert response.context["consignment"] == ours.consignment
    assert theirs.consignment.reference not in body
    subjects = {p.composed.subject for row in rows for p in row.previews}
    assert len(subjects) > 7  # the subjects are in each language
    english = {row.key: row.previews[0].composed for row in rows}
    assert english["confirm"].subject == "Confirm email updates for your parcel from Harbour & Pine"
    assert english["dispatched"].subject == "Harbour & Pine: Dispatched"
    assert english["out_for_delivery"].subject == "Harbour & Pine: Out for delivery"
    assert english["delivered"].subject == "Harbour & Pine: Delivered"
    assert english["attempted"].subject == "Harbour & Pine: Delivery attempted"
    assert english["exception"].subject == "Harbour & Pine: Problem with delivery"
    assert english["delay"].subject == "Harbour & Pine: In transit"
    # Each trigger's warning is shown as it would be (compose's as_if), not the consignment's.
    assert "reported a delay" in english["delay"].text
    assert "could not deliver this time" in english["attempted"].text
    assert "reported a problem" in english["exception"].text
    assert "reported" not in english["delivered"].text
    assert "customer@example.com" in english["delivered"].text
    assert 'lang="de"' in rows[1].previews[1].composed.html
    assert policy(response)["style-src-attr"] == "'unsafe-inline'"


def test_the_previews_default_to_the_brands_newest_and_take_a_reference(brand_staff, ours, brand):
    newer = make_consignment(brand)
    assert page(brand_staff.get(reverse(PREVIEWS))).count(newer.reference) >= 2
    response = brand_staff.get(reverse(PREVIEWS), {"reference": ours.consignment.reference.lower()})
    assert response.context["consignment"] == ours.consignment


def test_another_brands_reference_is_not_found(brand_staff, superuser, ours, theirs):
    response = brand_staff.get(reverse(PREVIEWS), {"reference": theirs.consignment.reference})
    assert response.status_code == 404
    body = response.content.decode()
    assert "None of your consignments has the reference" in body
    assert "<iframe" not in body and "Elsewhere" not in body
    missing = brand_staff.get(reverse(PREVIEWS), {"reference": "EC-ZZZ-ZZZ-ZZZ"})
    assert missing.status_code == 404
    everyone = superuser.get(reverse(PREVIEWS), {"reference": theirs.consignment.reference})
    assert everyone.context["consignment"] == theirs.consignment


def test_staff_of_no_brand_preview_nothing(staff_of_no_brand, ours):
    body = page(staff_of_no_brand.get(reverse(PREVIEWS)))
    assert "belongs to no brand" in body and "<iframe" not in body
    assert ours.consignment.reference not in body


def test_the_previews_write_nothing_and_cost_a_fixed_number_of_queries(brand_staff, ours):
    counts = {
        model: model.objects.count()
        for model in (EmailSubscriber, OutboundEmail, SuppressedAddress)
    }
    brand_staff.get(reverse(PREVIEWS))
    with CaptureQueriesContext(connection) as context:
        page(brand_staff.get(reverse(PREVIEWS)))
    statements = [q["sql"].lstrip().split(" ", 1)[0].upper() for q in context.captured_queries]
    assert set(statements) == {"SELECT"}
    # The session, the user, their brand, the consignment, the user's permissions (two), and
    # the timeline, read once for the 28 emails (two queries).
    assert len(statements) == 6 + 2
    assert counts == {model: model.objects.count() for model in counts}


def test_the_previews_are_on_the_index_and_need_a_login(client, brand_staff, db):
    assert 'href="/admin/email-previews/"' in page(brand_staff.get(reverse("admin:index")))
    assert client.get(reverse(PREVIEWS)).status_code == 302


# -- The brand's option and the staff group -------------------------------------------------


def test_superusers_turn_on_notifying_recipients(superuser, brand_staff, brand):
    change = url("admin:tracking_brand_change", brand.pk)
    form = superuser.get(change).context["adminform"].form
    assert "notify_recipient" in form.fields
    assert "without asking them to opt in first" in form.fields["notify_recipient"].help_text
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(notify_recipient="on", revision=0)
    response = superuser.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    brand.refresh_from_db()
    assert brand.notify_recipient
    staff_page = page(brand_staff.get(change))
    assert 'name="notify_recipient"' not in staff_page
    assert "without asking them to opt in first" in staff_page


def test_brand_staff_view_subscribers_and_emails_and_change_subscribers(brand_staff, brand):
    from django.contrib.auth import get_user_model

    hazel = get_user_model().objects.get(username="hazel")
    assert hazel.has_perm("tracking.view_emailsubscriber")
    assert hazel.has_perm("tracking.change_emailsubscriber")
    assert hazel.has_perm("tracking.view_outboundemail")
    for refused in (
        "add_emailsubscriber",
        "delete_emailsubscriber",
        "change_outboundemail",
        "view_suppressedaddress",
        "add_suppressedaddress",
    ):
        assert not hazel.has_perm(f"tracking.{refused}"), refused
