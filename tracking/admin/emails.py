"""Customer emails in the back office (design sections 7.4 and 7.5): who hears about a
consignment (email subscribers), the emails owed to them, the addresses nothing is ever sent
to, and a page showing every email as a customer gets it.

Subscribers and their emails are recorded by the services, in the writer's transaction, so they
are read-only here. Staff unsubscribe a subscriber or suppress its address (list actions and
buttons on its page, through tracking.services.notifications). Suppressed addresses are shared
by every brand: superusers add them (through the same service) and lift them; a lifted address
may be emailed again, but what its suppression cancelled stays cancelled.

An email's page and the previews page show emails rendered by the code that sends them
(tracking.delivery.email_content.compose); the previews are built in memory, never saved. The
HTML part sits in an `<iframe sandbox="" srcdoc=...>`: an opaque origin that runs no script,
submits no form and reaches nothing of the admin's. A srcdoc frame keeps the Content Security
Policy of its page, whose style-src 'self' would drop the inline styles an email is made of, so
those two pages also allow style attributes (style-src-attr 'unsafe-inline'); scripts, style
sheets and everything else keep the site's policy.

The subscribers' and emails' admins are brand-scoped (scope.BrandScopedAdmin): another brand's
subscriber or email is a 404, and the previews offer the user's own brand's consignments only.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass

from csp.constants import UNSAFE_INLINE
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Lower, Upper
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from tracking import access
from tracking import status as rules
from tracking.admin.consignments import SuperusersSeeBrandsMixin
from tracking.admin.scope import (
    BrandScopedAdmin,
    BrandScopedInline,
    ScopedRelatedFilter,
    SharedAdmin,
)
from tracking.admin.webhooks import when
from tracking.delivery.email_content import Composed, compose
from tracking.delivery.emails import message_id
from tracking.fields import canonical_reference
from tracking.models import (
    Consignment,
    EmailKind,
    EmailState,
    EmailSubscriber,
    Language,
    OutboundEmail,
    SubscriberState,
    SuppressedAddress,
)
from tracking.services import notifications
from tracking.timeline import Timeline

SUBSCRIBER_URLS = "admin:tracking_emailsubscriber"
EMAIL_URLS = "admin:tracking_outboundemail"

# Added to the Content Security Policy of the pages that show an email's HTML (the docstring).
PREVIEW_POLICY = {"style-src-attr": [UNSAFE_INLINE]}

# Whom the previews are addressed to: nobody's address, so none is taken for a real subscriber.
PREVIEW_ADDRESS = "customer@example.com"

KIND_NAMES = {EmailKind.CONFIRM: "Confirmation", EmailKind.UPDATE: "Update"}

# The status each trigger's update reaches; a delay is a warning and leaves the status where
# it was (design section 7.1), in transit for the previews.
TRIGGER_STATUS = {trigger: status for status, trigger in notifications.STATUS_TRIGGERS.items()}
TRIGGER_STATUS["delay"] = rules.Status.IN_TRANSIT
assert set(TRIGGER_STATUS) == set(notifications.TRIGGERS)

# Every email a subscriber may get: the confirmation, then one update per trigger.
EMAILS = ("confirm", *notifications.TRIGGERS)


def trigger_label(trigger: str) -> str:
    """The customer's words for the status a trigger reaches ("Out for delivery"), or "Delay"."""
    if trigger == "delay" or trigger not in TRIGGER_STATUS:
        return trigger.replace("_", " ").capitalize()
    return rules.status_label(TRIGGER_STATUS[trigger])


def triggers_text(triggers: list[str]) -> str:
    return ", ".join(trigger_label(t) for t in triggers) or "-"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def search_by_address_or_reference(
    queryset: QuerySet, term: str, *, address: str, reference: str
) -> QuerySet:
    """A whole email address (any case) or a consignment reference, matched exactly: an
    address has an @, anything else is taken for a reference."""
    term = term.strip()
    if not term:
        return queryset
    if "@" in term:
        # Both sides in upper case, as Django's iexact is on PostgreSQL (notifications.suppress
        # asks so), and as an index on UPPER(email) would serve it.
        return queryset.alias(searched=Upper(address)).filter(searched=Upper(Value(term)))
    return queryset.filter(**{reference: canonical_reference(term)})


def consignment_link(consignment: Consignment) -> str:
    url = reverse("admin:tracking_consignment_change", args=[consignment.pk])
    return format_html('<a href="{}">{}</a>', url, consignment.reference)


def preview_response(response: TemplateResponse) -> TemplateResponse:
    response._csp_update = PREVIEW_POLICY
    return response


# -- Subscribers ----------------------------------------------------------------------------


class SubscriberEmailInline(BrandScopedInline, admin.TabularInline):
    """A subscriber's emails, newest first, read-only; each opens on its page with a preview."""

    model = OutboundEmail
    fields = ["opened", "triggers_shown", "state", "due_at", "sent_at", "attempts", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "email"
    verbose_name_plural = "emails (newest first)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="email")
    def opened(self, email: OutboundEmail) -> str:
        url = reverse(f"{EMAIL_URLS}_change", args=[quote(email.pk)])
        return format_html('<a href="{}">{}</a>', url, KIND_NAMES.get(email.kind, email.kind))

    @admin.display(description="triggers")
    def triggers_shown(self, email: OutboundEmail) -> str:
        return triggers_text(email.triggers)


@admin.register(EmailSubscriber)
class EmailSubscriberAdmin(BrandScopedAdmin, SuperusersSeeBrandsMixin, admin.ModelAdmin):
    list_display = [
        "email",
        "consignment_shown",
        "language",
        "state_text",
        "recipient",
        "created_utc",
        "confirmed_at",
        "brand",
    ]
    brand_columns = ("brand", "consignment__brand")
    list_filter = ["state", "language", ("consignment__brand", ScopedRelatedFilter)]
    list_select_related = ["consignment__brand"]
    ordering = ["-created_utc"]  # the newest first, as the support desk asks about them
    # What the search box is for; get_search_results decides how each kind is matched.
    search_fields = ["email"]
    search_help_text = "A whole email address or a consignment reference (any case)."
    actions = ["unsubscribe_selected", "suppress_selected"]
    change_form_template = "admin/tracking/emailsubscriber/change_form.html"
    fieldsets = [
        (None, {"fields": ["email", "consignment_shown", "language", "state_text", "joined"]}),
        ("Suppression", {"fields": ["suppression"]}),
        ("Record", {"fields": ["id", "created_utc", "confirmed_at", "unsubscribed_at"]}),
    ]
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]
    inlines = [SubscriberEmailInline]

    def get_queryset(self, request):
        # When the address was suppressed (None if it is not), for the list and the page in
        # the same query: suppressed addresses are stored in lower case, under a unique index.
        since = SuppressedAddress.objects.filter(email=Lower(OuterRef("email")))
        return (
            super()
            .get_queryset(request)
            .select_related("consignment__brand")
            .annotate(suppressed_since=Subquery(since.values("created_utc")[:1]))
        )

    def get_search_results(self, request, queryset, search_term):
        found = search_by_address_or_reference(
            queryset, search_term, address="email", reference="consignment__reference"
        )
        return found, False

    def has_add_permission(self, request) -> bool:
        return False  # customers sign up on the tracking page; recipients are added by the brand

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the services record a subscriber's state; the actions change it

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # erasing the recipient's data (eraserecipient) removes subscribers

    def has_unsubscribe_permission(self, request) -> bool:
        # Unsubscribing or suppressing changes the subscriber: those who may change one may.
        return request.user.has_perm("tracking.change_emailsubscriber")

    # -- Columns and fields ---------------------------------------------------------------

    @admin.display(description="consignment", ordering="consignment__reference")
    def consignment_shown(self, sub: EmailSubscriber) -> str:
        return consignment_link(sub.consignment)

    @admin.display(description="state", ordering="state")
    def state_text(self, sub: EmailSubscriber) -> str:
        match sub.state:
            case SubscriberState.CONFIRMED:
                text = "Confirmed"  # when: the next column
            case SubscriberState.PENDING:
                text = "Pending: not confirmed yet"
            case _:
                text = f"Unsubscribed {when(sub.unsubscribed_at)}"
        if getattr(sub, "suppressed_since", None) is not None:
            text += " · address suppressed"
        return text

    @admin.display(description="recipient", boolean=True, ordering="is_recipient")
    def recipient(self, sub: EmailSubscriber) -> bool:
        return sub.is_recipient

    @admin.display(description="brand", ordering="consignment__brand__name")
    def brand(self, sub: EmailSubscriber) -> str:
        return sub.consignment.brand.name

    @admin.display(description="how")
    def joined(self, sub: EmailSubscriber) -> str:
        if sub.is_recipient:
            return (
                "The consignment's recipient: the brand emails recipients without asking them "
                "to opt in first."
            )
        return (
            "Asked on the tracking page, in this language (double opt-in: nothing but the "
            "confirmation is sent until its link is followed)."
        )

    @admin.display(description="address")
    def suppression(self, sub: EmailSubscriber) -> str:
        since = getattr(sub, "suppressed_since", None)
        if since is None:
            return "Not suppressed."
        return (
            f"Suppressed {when(since)}: nothing is sent to this address, by any brand. Only "
            "an administrator can lift it."
        )

    # -- Unsubscribing and suppressing, from the list or the page --------------------------

    def get_urls(self):
        def post(act):
            return self.admin_site.admin_view(
                lambda request, object_id: self._act(request, object_id, act)
            )

        name = SUBSCRIBER_URLS.removeprefix("admin:")
        return [
            path(
                "<path:object_id>/unsubscribe/",
                post(self._unsubscribe_one),
                name=f"{name}_unsubscribe",
            ),
            path("<path:object_id>/suppress/", post(self._suppress_one), name=f"{name}_suppress"),
            *super().get_urls(),
        ]

    def _act(self, request, object_id, act):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        sub = self.get_object(request, unquote(object_id))  # another brand's: a 404
        if not self.has_unsubscribe_permission(request):
            raise PermissionDenied
        act(request, sub)
        return HttpResponseRedirect(reverse(f"{SUBSCRIBER_URLS}_change", args=[quote(sub.pk)]))

    def render_change_form(self, request, context, add=False, change=False, **kwargs):
        context["has_unsubscribe_permission"] = self.has_unsubscribe_permission(request)
        return super().render_change_form(request, context, add=add, change=change, **kwargs)

    def _unsubscribe(self, request, sub: EmailSubscriber) -> bool:
        changed = notifications.unsubscribe(sub)
        if changed:
            self.log_change(request, sub, "Unsubscribed in the back office.")
        return changed

    def _unsubscribe_one(self, request, sub: EmailSubscriber) -> None:
        if self._unsubscribe(request, sub):
            messages.success(
                request,
                f"Unsubscribed {sub.email}: nothing more is sent to them about "
                f"{sub.consignment.reference}; what was pending is cancelled.",
            )
        else:
            messages.info(request, f"{sub.email} was already unsubscribed.")

    def _suppress(self, request, subs: list[EmailSubscriber]) -> tuple[list[str], list[str]]:
        """Suppress each subscriber's address; (the addresses newly suppressed, those that
        already were). The service also cancels what was pending to an address, for every
        brand: the notes say so without counting, so no brand learns of another's emails."""
        by_address: dict[str, list[EmailSubscriber]] = {}
        for sub in subs:
            by_address.setdefault(sub.email.lower(), []).append(sub)
        already = set(
            SuppressedAddress.objects.filter(email__in=list(by_address)).values_list(
                "email", flat=True
            )
        )
        reason = f"staff: {request.user.get_username()}"
        for address, owners in by_address.items():
            notifications.suppress(address, reason=reason)
            if address not in already:
                for sub in owners:
                    self.log_change(request, sub, f"Suppressed the address {sub.email}.")
        new = [address for address in by_address if address not in already]
        return new, sorted(already)

    def _suppress_note(self, request, new: list[str], already: list[str]) -> None:
        if new:
            named = new[0] if len(new) == 1 else plural(len(new), "address", "addresses")
            messages.success(
                request,
                f"Suppressed {named}: nothing more is sent to {'it' if len(new) == 1 else 'them'}, "
                "by any brand, and what was pending is cancelled. Only an administrator can "
                "lift a suppression.",
            )
        if already:
            named = (
                already[0] if len(already) == 1 else plural(len(already), "address", "addresses")
            )
            messages.info(
                request, f"{named} {'was' if len(already) == 1 else 'were'} already suppressed."
            )

    def _suppress_one(self, request, sub: EmailSubscriber) -> None:
        self._suppress_note(request, *self._suppress(request, [sub]))

    @admin.action(description="Unsubscribe: send them nothing more", permissions=["unsubscribe"])
    def unsubscribe_selected(self, request, queryset):
        subs = list(queryset)
        done = sum(self._unsubscribe(request, sub) for sub in subs)
        note = f"Unsubscribed {plural(done, 'subscriber')}; what was pending to them is cancelled."
        if len(subs) > done:
            note += f" {plural(len(subs) - done, 'was', 'were')} already unsubscribed."
        messages.success(request, note)

    @admin.action(
        description="Suppress the address: nothing more to it, by any brand",
        permissions=["unsubscribe"],
    )
    def suppress_selected(self, request, queryset):
        self._suppress_note(request, *self._suppress(request, list(queryset)))


# -- Notification emails --------------------------------------------------------------------


@admin.register(OutboundEmail)
class OutboundEmailAdmin(BrandScopedAdmin, SuperusersSeeBrandsMixin, admin.ModelAdmin):
    list_display = [
        "kind_text",
        "to",
        "consignment_shown",
        "triggers_shown",
        "state_text",
        "attempts",
        "created_utc",
        "brand",
    ]
    list_display_links = ["kind_text"]
    brand_columns = ("brand", "subscriber__consignment__brand")
    list_filter = ["kind", "state", ("subscriber__consignment__brand", ScopedRelatedFilter)]
    list_select_related = ["subscriber__consignment__brand"]
    # What the search box is for; get_search_results decides how each kind is matched.
    search_fields = ["subscriber__email"]
    search_help_text = "A whole email address or a consignment reference (any case)."
    # The total beside a filtered count is one more count of a large table.
    show_full_result_count = False
    change_form_template = "admin/tracking/outboundemail/change_form.html"
    fieldsets = [
        (None, {"fields": ["kind_text", "to", "consignment_shown", "triggers_shown"]}),
        (
            "Sending",
            {
                "fields": [
                    "state_text",
                    "created_utc",
                    "due_at",
                    "sent_at",
                    "attempts",
                    "last_error",
                    "message_id_header",
                ]
            },
        ),
    ]
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    def get_queryset(self, request):
        # The page names the subscriber, the consignment and its brand, as the list does.
        return super().get_queryset(request).select_related("subscriber__consignment__brand")

    def get_search_results(self, request, queryset, search_term):
        found = search_by_address_or_reference(
            queryset,
            search_term,
            address="subscriber__email",
            reference="subscriber__consignment__reference",
        )
        return found, False

    def has_add_permission(self, request) -> bool:
        return False  # emails are recorded by the services, in the writer's transaction

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # staff unsubscribe or suppress the subscriber instead

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # finished emails are pruned; erasure removes a subscriber's

    @admin.display(description="email", ordering="kind")
    def kind_text(self, email: OutboundEmail) -> str:
        return KIND_NAMES.get(email.kind, email.kind)

    @admin.display(description="to", ordering="subscriber__email")
    def to(self, email: OutboundEmail) -> str:
        url = reverse(f"{SUBSCRIBER_URLS}_change", args=[quote(email.subscriber_id)])
        return format_html('<a href="{}">{}</a>', url, email.subscriber.email)

    @admin.display(description="consignment")
    def consignment_shown(self, email: OutboundEmail) -> str:
        return consignment_link(email.subscriber.consignment)

    @admin.display(description="triggers")
    def triggers_shown(self, email: OutboundEmail) -> str:
        return triggers_text(email.triggers)

    @admin.display(description="state", ordering="state")
    def state_text(self, email: OutboundEmail) -> str:
        match email.state:
            case EmailState.SENT:
                return f"Sent {when(email.sent_at)}"
            case EmailState.FAILED:
                return f"Failed after {plural(email.attempts, 'attempt')}"
            case EmailState.CANCELLED:
                return "Cancelled before it was sent"
        tried = f" ({plural(email.attempts, 'failed attempt')})" if email.attempts else ""
        return f"Pending: due {when(email.due_at)}{tried}"

    @admin.display(description="brand", ordering="subscriber__consignment__brand__name")
    def brand(self, email: OutboundEmail) -> str:
        return email.subscriber.consignment.brand.name

    @admin.display(description="Message-ID")
    def message_id_header(self, email: OutboundEmail) -> str:
        return message_id(email)

    def render_change_form(self, request, context, add=False, change=False, **kwargs):
        email = context.get("original")
        if email is not None:
            context["preview"] = compose(email)
            context["subtitle"] = (
                f"{KIND_NAMES.get(email.kind, email.kind)} to {email.subscriber.email}"
            )
        response = super().render_change_form(request, context, add=add, change=change, **kwargs)
        return preview_response(response)


# -- Suppressed addresses -------------------------------------------------------------------


class SuppressForm(forms.ModelForm):
    email = forms.EmailField(
        max_length=254,
        help_text="Nothing is sent to it again, by any brand, and what is pending to it is "
        "cancelled.",
    )
    reason = forms.CharField(
        max_length=40,
        required=False,
        help_text="Why, in at most 40 characters. Left empty, it says who: staff: your-username.",
    )

    class Meta:
        model = SuppressedAddress
        fields = ["email", "reason"]

    def clean_email(self):
        address = self.cleaned_data["email"].strip().lower()
        if SuppressedAddress.objects.filter(email=address).exists():
            raise ValidationError("This address is suppressed already.")
        return address


@admin.register(SuppressedAddress)
class SuppressedAddressAdmin(SharedAdmin, admin.ModelAdmin):
    """Every brand's emails skip these: superusers only. Added through the service; lifted by
    deleting the row (as `manage.py suppressemail --lift` does)."""

    form = SuppressForm
    list_display = ["email", "reason", "created_utc"]
    search_fields = ["email"]
    search_help_text = "A whole email address (any case)."
    ordering = ["-created_utc"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lower()
        return (queryset.filter(email=term) if term else queryset), False  # the unique index

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a suppression is added or lifted, never edited

    def get_fields(self, request, obj=None):
        return ["email", "reason"] if obj is None else ["email", "reason", "created_utc"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["email", "reason", "created_utc"]

    def save_model(self, request, obj, form, change):
        address = form.cleaned_data["email"]
        reason = form.cleaned_data["reason"].strip() or f"staff: {request.user.get_username()}"
        cancelled = notifications.suppress(address, reason=reason)
        # The admin logs and links the object it was given: make it the row the service wrote.
        row = SuppressedAddress.objects.get(email=address)
        obj.__dict__.update({k: v for k, v in row.__dict__.items() if k != "_state"})
        obj._state.adding = False
        messages.info(
            request,
            f"{plural(cancelled, 'pending email')} to {address} cancelled.",
        )

    def save_related(self, request, form, formsets, change):
        pass  # no related rows; the suppression was written by the service


# -- The previews page ----------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    anchor: str
    language_name: str
    composed: Composed


@dataclass(frozen=True)
class PreviewRow:
    key: str
    label: str
    about: str
    previews: list[Preview]


def unsaved_email(consignment: Consignment, key: str, language: str, now: dt.datetime):
    """The email `key` (the confirmation or a trigger's update) to an imaginary subscriber of
    this consignment: built in memory, never saved."""
    confirming = key == "confirm"
    subscriber = EmailSubscriber(
        consignment=consignment,
        email=PREVIEW_ADDRESS,
        language=language,
        state=SubscriberState.PENDING if confirming else SubscriberState.CONFIRMED,
        created_utc=now,
        confirmed_at=None if confirming else now,
    )
    return OutboundEmail(
        subscriber=subscriber,
        kind=EmailKind.CONFIRM if confirming else EmailKind.UPDATE,
        triggers=[] if confirming else [key],
        state=EmailState.PENDING,
        due_at=now,
        created_utc=now,
    )


def preview_rows(consignment: Consignment, now: dt.datetime) -> list[PreviewRow]:
    """Every email in every language. An update says how the consignment stands when it is
    sent: each is shown with the status its trigger reaches (on a copy in memory), the rest
    as the consignment stands now."""
    rows = []
    timeline = Timeline.find(reference=consignment.reference)
    for key in EMAILS:
        shown = copy.copy(consignment)
        if key == "confirm":
            label = "Confirmation"
            about = (
                "Sent when someone asks for updates on the tracking page; nothing else is sent "
                "to them until they follow its link."
            )
        else:
            shown.status = TRIGGER_STATUS[key]
            label = f"Update: {trigger_label(key)}"
            about = (
                "Sent when a package or the consignment gets a delay warning."
                if key == "delay"
                else f"Sent when a package or the consignment reaches {trigger_label(key)}."
            )
        previews = [
            Preview(
                anchor=f"{key}-{language}",
                language_name=name,
                composed=compose(
                    unsaved_email(shown, key, language, now),
                    now=now,
                    as_if=None if key == "confirm" else key,
                    timeline=timeline,
                ),
            )
            for language, name in Language.choices
        ]
        rows.append(PreviewRow(key=key, label=label, about=about, previews=previews))
    return rows


def urls(site) -> list:
    return [
        path(
            "email-previews/",
            site.admin_view(lambda request: previews_view(site, request)),
            name="email_previews",
        )
    ]


def previews_view(site, request):
    """?reference=EC-...: that consignment of the user's scope (another brand's is a 404, as a
    missing one); without it the newest."""
    scope = access.staff_scope(request.user)
    consignments = scope.limit(Consignment.objects.select_related("brand"), "brand")
    asked = request.GET.get("reference", "").strip()
    if asked:
        consignment = consignments.filter(reference=canonical_reference(asked)).first()
    else:
        consignment = consignments.order_by("-created_utc", "-pk").first()
    context = {
        **site.each_context(request),
        "title": "Email previews",
        "asked": asked,
        "consignment": consignment,
        "rows": preview_rows(consignment, timezone.now()) if consignment else [],
        "languages": [name for _code, name in Language.choices],
        "address": PREVIEW_ADDRESS,
        "has_scope": scope.every_brand or scope.brand_id is not None,
    }
    status = 404 if asked and consignment is None else 200
    return preview_response(
        TemplateResponse(request, "admin/tracking/email_previews.html", context, status=status)
    )
