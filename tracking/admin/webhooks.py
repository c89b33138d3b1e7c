"""Webhooks in the back office (design sections 7.3 and 7.5): a brand's subscriptions and the
deliveries owed to them.

Subscriptions are added, changed and deleted through the services, as over `/v1`: the URL is
checked by the services' own rule (a refusal is the form's error), and the signing secret is
shown once, after the save, like an API key's. Their pages send a test, rotate the secret (both
sign for 24 hours), disable and enable (saying how many held messages were released), and
replay every failed or held message since a time. Deliveries (messages) are read-only: the
body as recorded and each attempt's answer; staff replay them, never edit them.

Both admins are brand-scoped (scope.BrandScopedAdmin): brand staff see, filter and act on their
brand's rows only, and another brand's subscription or message is a 404.
"""

from __future__ import annotations

import datetime as dt
import http
import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from tracking import access, services
from tracking.admin.consignments import SuperusersSeeBrandsMixin
from tracking.admin.scope import BrandScopedAdmin, BrandScopedInline, ScopedRelatedFilter
from tracking.fields import canonical_reference
from tracking.models import (
    SUBSCRIBABLE_TYPES,
    MessageState,
    WebhookAttempt,
    WebhookMessage,
    WebhookSubscription,
    WebhookType,
)

# The services' own URL rule (the one create_subscription and update_subscription apply), run
# while the form is checked so that a refusal is shown on the field, not as an error page.


SUBSCRIPTION_URLS = "admin:tracking_webhooksubscription"
MESSAGE_URLS = "admin:tracking_webhookmessage"

# What each type a subscription may ask for is sent on (design section 7.3).
TYPE_CHOICES = [
    (
        str(WebhookType.CONSIGNMENT_CREATED),
        "consignment.created: a consignment was created",
    ),
    (
        str(WebhookType.TRACKING_UPDATED),
        "tracking.updated: events were stored (one message per consignment per write)",
    ),
    (
        str(WebhookType.STATUS_CHANGED),
        "consignment.status_changed: a package's or the consignment's status or warning moved",
    ),
]
assert [value for value, _ in TYPE_CHOICES] == [str(t) for t in SUBSCRIBABLE_TYPES]

# The messages a subscription still owes, as its list and page count them.
OWED = (MessageState.PENDING, MessageState.FAILED, MessageState.HELD)


def when(moment: dt.datetime | None) -> str:
    """A time as the admin shows every other (the site's format, in UTC)."""
    if moment is None:
        return "-"
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def http_answer(status: int | None) -> str:
    """`503 Service Unavailable` rather than `503`; an unknown code stays a number."""
    if status is None:
        return "no answer"
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def deliveries_url(subscription_id, **filters) -> str:
    query = {"subscription__id__exact": subscription_id, **filters}
    return f"{reverse(f'{MESSAGE_URLS}_changelist')}?{urlencode(query)}"


def owed_counts(subscription_ids) -> dict:
    """{subscription id: {state: count}} of the pending, failed and held messages of these
    subscriptions, in one query (delivered messages, most rows, are not counted)."""
    counts: dict = {}
    rows = (
        WebhookMessage.objects.filter(subscription_id__in=list(subscription_ids), state__in=OWED)
        .values_list("subscription_id", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for subscription_id, state, n in rows:
        counts.setdefault(subscription_id, {})[state] = n
    return counts


def owed_links(subscription: WebhookSubscription, counts: dict) -> str:
    """ "2 pending · 1 failed", each a link to those deliveries; "none" when nothing is owed."""
    parts = [
        (deliveries_url(subscription.pk, state__exact=s), counts[s], s)
        for s in OWED
        if counts.get(s)
    ]
    if not parts:
        return "none"
    return format_html_join(" · ", '<a href="{}">{} {}</a>', parts)


# -- Forms ----------------------------------------------------------------------------------


class SubscriptionForm(forms.ModelForm):
    """A subscription's endpoint and types, checked by the services' rules before they run."""

    event_types = forms.MultipleChoiceField(
        choices=TYPE_CHOICES,
        # The admin's class for a list of choices: each label as wide as its words.
        widget=forms.CheckboxSelectMultiple(attrs={"class": "radiolist"}),
        required=False,
        help_text="None ticked: every type, including types added later. A test is sent "
        "whenever one is asked for, whatever is ticked.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["brand", "url", "event_types"]
        labels = {"url": "URL"}
        widgets = {"url": forms.TextInput(attrs={"class": "vTextField webhook-url"})}
        help_texts = {
            "url": "Where the brand's system listens: http:// or https://, not a loopback, "
            "private or link-local address. Redirects are not followed.",
        }

    def clean(self):
        data = super().clean()
        url = (data.get("url") or "").strip()
        if url:
            try:
                services.check_webhook_url("url", url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
            except ValidationError as error:
                self.add_error("url", f"The URL {error.message_dict['url'][0]}.")
            else:
                data["url"] = url
        return data


class ReplaySinceForm(forms.Form):
    since = forms.DateTimeField(
        label="Since (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Messages recorded at or after this time.",
    )

    def clean_since(self):
        since = self.cleaned_data["since"]
        if since > timezone.now():
            raise ValidationError("Choose a time in the past.")
        return since


# -- Subscriptions --------------------------------------------------------------------------


class SubscriptionChangeList(ChangeList):
    """The page's subscriptions, each with what it still owes: one query for the page, not a
    join of every message into the list's query and its count."""

    def get_results(self, request):
        super().get_results(request)
        rows = list(self.result_list)
        counts = owed_counts(sub.pk for sub in rows)
        for sub in rows:
            sub.owed = counts.get(sub.pk, {})


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(BrandScopedAdmin, SuperusersSeeBrandsMixin, admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["url", "brand", "types", "active", "disabled", "failing_since", "owed"]
    brand_columns = ("brand",)
    list_filter = ["active", ("brand", ScopedRelatedFilter)]
    list_select_related = ["brand"]
    search_fields = ["url"]
    search_help_text = "Part of the endpoint's URL."
    actions = ["send_tests", "rotate_secrets", "disable", "enable", "replay_since"]
    change_form_template = "admin/tracking/webhooksubscription/change_form.html"
    readonly_fields = [
        "brand",
        "delivery_state",
        "failing_since",
        "owed_here",
        "signing",
        "id",
        "created_utc",
        "modified_utc",
    ]

    # -- The list ---------------------------------------------------------------------------

    def get_changelist(self, request, **kwargs):
        return SubscriptionChangeList

    @admin.display(description="types")
    def types(self, sub: WebhookSubscription) -> str:
        if not sub.event_types:
            return "every type"
        return format_html_join(mark_safe("<br>"), "{}", ((t,) for t in sub.event_types))

    @admin.display(description="disabled", ordering="disabled_at")
    def disabled(self, sub: WebhookSubscription) -> str:
        if sub.active:
            return "-"
        return f"{when(sub.disabled_at)}: {sub.disabled_reason}"

    @admin.display(description="undelivered")
    def owed(self, sub: WebhookSubscription) -> str:
        return owed_links(sub, getattr(sub, "owed", {}))

    # -- Its page ---------------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["brand", "url", "event_types"]})]
        return [
            (None, {"fields": ["brand", "url", "event_types"]}),
            ("Deliveries", {"fields": ["delivery_state", "failing_since", "owed_here"]}),
            ("Signing", {"fields": ["signing"]}),
            ("Record", {"fields": ["id", "created_utc", "modified_utc"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        brand_id = access.staff_scope(request.user).brand_id
        if brand_id is not None:
            initial.setdefault("brand", brand_id)
        return initial

    @admin.display(description="state")
    def delivery_state(self, sub: WebhookSubscription) -> str:
        if sub.active:
            return "Active: messages are delivered as they are recorded."
        return (
            f"Disabled {when(sub.disabled_at)}: {sub.disabled_reason}. New messages are held "
            f"(kept {settings.WEBHOOK_RETENTION_DAYS} days) and sent once it is enabled."
        )

    @admin.display(description="undelivered")
    def owed_here(self, sub: WebhookSubscription) -> str:
        counts = owed_counts([sub.pk]).get(sub.pk, {})
        return format_html(
            '{} · <a href="{}">every delivery</a>', owed_links(sub, counts), deliveries_url(sub.pk)
        )

    @admin.display(description="secret")
    def signing(self, sub: WebhookSubscription) -> str:
        now = timezone.now()
        if sub.previous_secret and sub.previous_secret_until and now < sub.previous_secret_until:
            return (
                f"Rotated: the new and the previous secret both sign every delivery until "
                f"{when(sub.previous_secret_until)}; then only the new one."
            )
        return "One secret signs every delivery. It was shown once and cannot be shown again."

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.update_subscription(obj, url=data["url"], event_types=data["event_types"])
            return
        sub, secret = services.create_subscription(
            brand=data["brand"], url=data["url"], event_types=data["event_types"]
        )
        # The admin logs and links the object it was given: make it the subscription created.
        obj.__dict__.update({k: v for k, v in sub.__dict__.items() if k != "_state"})
        obj._state.adding = False
        messages.warning(
            request,
            format_html(
                "Copy this signing secret now; it is shown only once and cannot be recovered: "
                "<code>{}</code>",
                secret,
            ),
        )

    def save_related(self, request, form, formsets, change):
        pass  # no related rows; the subscription was written by the service

    def delete_model(self, request, obj):
        services.delete_subscription(obj)

    def delete_queryset(self, request, queryset):
        for sub in queryset:
            services.delete_subscription(sub)

    def get_deleted_objects(self, objs, request):
        # The delivery log goes with a subscription. Django's summary would list every message
        # and attempt, and ask for a permission to delete messages that nobody has (they are
        # read-only here): say what goes, in two queries.
        subs = list(objs)
        sent = WebhookMessage.objects.filter(subscription__in=subs).count()
        tried = WebhookAttempt.objects.filter(message__subscription__in=subs).count()
        listed = [
            format_html(
                'Webhook subscription: <a href="{}">{}</a>',
                reverse(f"{SUBSCRIPTION_URLS}_change", args=[sub.pk]),
                sub.url,
            )
            for sub in subs
        ]
        log = (
            f"its delivery log: {sent} message(s) and {tried} attempt(s); "
            "what was not delivered is dropped with it"
        )
        counts = {
            WebhookSubscription._meta.verbose_name_plural: len(subs),
            WebhookMessage._meta.verbose_name_plural: sent,
            WebhookAttempt._meta.verbose_name_plural: tried,
        }
        return [*listed, [log]], counts, set(), []

    # -- What staff do to a subscription, from its page or the list's actions -------------

    def get_urls(self):
        def post(act):
            return self.admin_site.admin_view(
                lambda request, object_id: self._act(request, object_id, act)
            )

        name = SUBSCRIPTION_URLS.removeprefix("admin:")
        return [
            path("<path:object_id>/test/", post(self._test), name=f"{name}_test"),
            path("<path:object_id>/rotate/", post(self._rotate), name=f"{name}_rotate"),
            path("<path:object_id>/disable/", post(self._disable), name=f"{name}_disable"),
            path("<path:object_id>/enable/", post(self._enable), name=f"{name}_enable"),
            path(
                "<path:object_id>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name=f"{name}_replay",
            ),
            *super().get_urls(),
        ]

    def _own(self, request, object_id) -> WebhookSubscription:
        sub = self.get_object(request, unquote(object_id))  # another brand's: a 404
        if not self.has_change_permission(request, sub):
            raise PermissionDenied
        return sub

    def _act(self, request, object_id, act):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        sub = self._own(request, object_id)
        act(request, sub)
        return HttpResponseRedirect(reverse(f"{SUBSCRIPTION_URLS}_change", args=[sub.pk]))

    def _test(self, request, sub: WebhookSubscription) -> None:
        message = services.send_test(sub)
        self.log_change(request, sub, f"Sent a test ({message.pk}).")
        link = reverse(f"{MESSAGE_URLS}_change", args=[quote(message.pk)])
        if message.state == MessageState.HELD:
            text = "Test message <a href='{}'>{}</a> recorded for {}: held, as the subscription "
            text += "is disabled; it is sent once the subscription is enabled."
            messages.warning(request, format_html(text, link, message.pk, sub.url))
        else:
            text = "Test message <a href='{}'>{}</a> queued for {}; its page shows the answer."
            messages.success(request, format_html(text, link, message.pk, sub.url))

    def _rotate(self, request, sub: WebhookSubscription) -> None:
        replaced_early = bool(
            sub.previous_secret
            and sub.previous_secret_until
            and timezone.now() < sub.previous_secret_until
        )
        secret = services.rotate_secret(sub)
        self.log_change(request, sub, "Rotated the signing secret.")
        messages.warning(
            request,
            format_html(
                "New signing secret for {} (shown only once): <code>{}</code> Until {} "
                "(24 hours) every delivery is signed with both the new and the previous "
                "secret, so the receiver can switch without missing one; then only the new "
                "one signs.{}",
                sub.url,
                secret,
                when(sub.previous_secret_until),
                " The secret replaced by the rotation before this one stops signing now."
                if replaced_early
                else "",
            ),
        )

    def _disable(self, request, sub: WebhookSubscription) -> None:
        reason = f"disabled in the back office by {request.user.get_username()}"
        if not services.disable_subscription(sub, reason=reason):
            messages.info(request, f"{sub.url} was already disabled.")
            return
        self.log_change(request, sub, "Disabled.")
        messages.success(
            request,
            f"Disabled {sub.url}: nothing is sent to it; its messages are held (kept "
            f"{settings.WEBHOOK_RETENTION_DAYS} days) until it is enabled again.",
        )

    def _enable(self, request, sub: WebhookSubscription) -> None:
        was_active = sub.active
        released = services.enable_subscription(sub)
        self.log_change(request, sub, f"Enabled; {released} held message(s) released.")
        held = f"{released} held message{'s' if released != 1 else ''}"
        if was_active:
            messages.info(request, f"{sub.url} was already active; {held} released.")
        else:
            messages.success(request, f"Enabled {sub.url}: {held} released for delivery now.")

    def replay_view(self, request, object_id):
        """Every failed or held message of one subscription since a time: a small form."""
        sub = self._own(request, object_id)
        chosen = WebhookSubscription.objects.filter(pk=sub.pk)
        back = reverse(f"{SUBSCRIPTION_URLS}_change", args=[sub.pk])
        done = self._replay_since(request, chosen, [sub], {}, back)
        if done:
            return HttpResponseRedirect(reverse(f"{SUBSCRIPTION_URLS}_change", args=[sub.pk]))
        return done.page

    # -- Actions on the selected subscriptions --------------------------------------------

    @admin.action(description="Send a test to the selected subscriptions", permissions=["change"])
    def send_tests(self, request, queryset):
        for sub in queryset:
            self._test(request, sub)

    @admin.action(
        description="Rotate the secret: the old one signs for 24 hours more", permissions=["change"]
    )
    def rotate_secrets(self, request, queryset):
        for sub in queryset:
            self._rotate(request, sub)

    @admin.action(description="Disable: hold their messages", permissions=["change"])
    def disable(self, request, queryset):
        for sub in queryset:
            self._disable(request, sub)

    @admin.action(description="Enable: release what was held", permissions=["change"])
    def enable(self, request, queryset):
        for sub in queryset:
            self._enable(request, sub)

    @admin.action(description="Replay failed and held messages since…", permissions=["change"])
    def replay_since(self, request, queryset):
        subs = list(queryset)
        hidden = {
            "action": "replay_since",
            admin.helpers.ACTION_CHECKBOX_NAME: [sub.pk for sub in subs],
        }
        back = reverse(f"{SUBSCRIPTION_URLS}_changelist")
        done = self._replay_since(request, queryset, subs, hidden, back)
        return None if done else done.page

    def _replay_since(self, request, queryset, subs, hidden, back: str) -> _Replayed:
        """The form (its page when not yet posted or not valid), else the replay and a note."""
        posted = request.method == "POST" and "since" in request.POST
        form = ReplaySinceForm(request.POST if posted else None, initial={"since": _since(subs)})
        if posted and form.is_valid():
            since = form.cleaned_data["since"]
            due = services.replay_failed_since(queryset, since)
            for sub in subs:
                self.log_change(request, sub, f"Replayed failed and held messages since {since}.")
            plural = "s" if due != 1 else ""
            note = f"{due} failed or held message{plural} since {when(since)} due again now."
            if any(not sub.active for sub in subs):
                note += " Those of a disabled subscription stay held until it is enabled."
            messages.success(request, note)
            return _Replayed(None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Replay failed and held messages",
            "opts": self.model._meta,
            "subscriptions": subs,
            "form": form,
            "hidden": [
                (name, value)
                for name, values in hidden.items()
                for value in (values if isinstance(values, list) else [values])
            ],
            "retention_days": settings.WEBHOOK_RETENTION_DAYS,
            "back_url": back,
        }
        page = TemplateResponse(
            request,
            "admin/tracking/webhooksubscription/replay_since.html",
            context,
            status=400 if posted else 200,
        )
        return _Replayed(page)


class _Replayed:
    """The outcome of the replay form: true once replayed, else the page to show."""

    def __init__(self, page):
        self.page = page

    def __bool__(self) -> bool:
        return self.page is None


def _since(subs) -> dt.datetime:
    """Where a replay most likely starts: when the one subscription began to fail or was
    disabled (the earlier), else a day ago; to the minute, as the field shows it."""
    starts = (
        [t for t in (subs[0].failing_since, subs[0].disabled_at) if t] if len(subs) == 1 else []
    )
    start = min(starts) if starts else timezone.now() - dt.timedelta(days=1)
    return timezone.localtime(start).replace(second=0, microsecond=0)


# -- Deliveries -----------------------------------------------------------------------------


class WireTypeFilter(admin.ChoicesFieldListFilter):
    """The type filter in the names receivers see (`tracking.updated`), not Django's labels;
    the query string is Django's (type__exact=tracking.updated)."""

    def choices(self, changelist):
        names = {str(label): value for value, label in self.field.flatchoices}
        for choice in super().choices(changelist):
            choice["display"] = names.get(str(choice["display"]), choice["display"])
            yield choice


class AttemptInline(BrandScopedInline, admin.TabularInline):
    """A message's attempts, newest first, read-only: what the endpoint answered, how fast."""

    model = WebhookAttempt
    fields = ["attempted_at", "answer", "duration", "excerpt", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "attempt"
    verbose_name_plural = "attempts (newest first)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="answer")
    def answer(self, attempt: WebhookAttempt) -> str:
        return http_answer(attempt.status_code)

    @admin.display(description="took")
    def duration(self, attempt: WebhookAttempt) -> str:
        ms = attempt.duration_ms
        return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"

    @admin.display(description="answer's first lines")
    def excerpt(self, attempt: WebhookAttempt) -> str:
        if not attempt.response_excerpt:
            return "-"
        return format_html('<pre class="webhook-text">{}</pre>', attempt.response_excerpt)


@admin.register(WebhookMessage)
class WebhookMessageAdmin(BrandScopedAdmin, SuperusersSeeBrandsMixin, admin.ModelAdmin):
    list_display = [
        "short_id",
        "created_utc",
        "wire_type",
        "subscription",
        "consignment_link",
        "state_text",
        "attempts",
        "last_answer",
    ]
    list_display_links = ["short_id"]
    brand_columns = ("subscription__brand",)
    list_filter = [
        ("subscription", ScopedRelatedFilter),
        ("type", WireTypeFilter),
        "state",
        ("subscription__brand", ScopedRelatedFilter),
    ]
    list_select_related = ["subscription", "consignment"]
    # What the search box is for; get_search_results decides how each kind is matched.
    search_fields = ["id"]
    search_help_text = "A message id (msg_…, its webhook-id header) or a consignment reference."
    # The total beside a filtered count is one more count of a large table.
    show_full_result_count = False
    actions = ["replay_messages"]
    change_form_template = "admin/tracking/webhookmessage/change_form.html"
    fieldsets = [
        (None, {"fields": ["id", "wire_type", "subscription_link", "consignment_link"]}),
        (
            "Delivery",
            {
                "fields": [
                    "state_text",
                    "created_utc",
                    "attempts",
                    "last_answer",
                    "retries",
                    "delivered_at",
                ]
            },
        ),
        ("Body", {"fields": ["pretty_body"]}),
    ]
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]
    inlines = [AttemptInline]

    def get_search_results(self, request, queryset, search_term):
        # One exact match on an indexed column, never a scan: an id, else a reference.
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.lower().startswith("msg_"):
            return queryset.filter(pk=term.lower()), False
        return queryset.filter(consignment__reference=canonical_reference(term)), False

    def has_add_permission(self, request) -> bool:
        return False  # messages are recorded by the services, in the writer's transaction

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a message's id and body are fixed when it is recorded

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # finished messages are pruned after WEBHOOK_RETENTION_DAYS

    def has_replay_permission(self, request) -> bool:
        # Replaying acts on the subscription's deliveries: those who may change it may.
        return request.user.has_perm("tracking.change_webhooksubscription")

    @admin.display(description="id", ordering="id")
    def short_id(self, message: WebhookMessage) -> str:
        # The whole id is on the message's page (and found by the search box); a column of
        # 36 characters of hex would take the width the URL and the state need.
        return format_html('<span title="{}">{}…</span>', message.pk, message.pk[:12])

    @admin.display(description="type", ordering="type")
    def wire_type(self, message: WebhookMessage) -> str:
        # A line may break after the dot (consignment.|status_changed), never inside a word.
        return format_html_join(mark_safe(".<wbr>"), "{}", ((p,) for p in message.type.split(".")))

    @admin.display(description="attempts", ordering="attempt_count")
    def attempts(self, message: WebhookMessage) -> int:
        return message.attempt_count

    @admin.display(description="consignment")
    def consignment_link(self, message: WebhookMessage) -> str:
        if message.consignment_id is None:
            return "-"
        url = reverse("admin:tracking_consignment_change", args=[message.consignment_id])
        return format_html('<a href="{}">{}</a>', url, message.consignment.reference)

    @admin.display(description="subscription")
    def subscription_link(self, message: WebhookMessage) -> str:
        url = reverse(f"{SUBSCRIPTION_URLS}_change", args=[message.subscription_id])
        return format_html('<a href="{}">{}</a>', url, message.subscription.url)

    @admin.display(description="state", ordering="state")
    def state_text(self, message: WebhookMessage) -> str:
        match message.state:
            case MessageState.DELIVERED:
                return f"Delivered {when(message.delivered_at)}"
            case MessageState.FAILED:
                return "Failed: every retry was spent"
            case MessageState.HELD:
                return "Held: the subscription is disabled"
        retry = f" (retry {message.retries})" if message.retries else ""
        return f"Pending: next try {when(message.next_attempt_at)}{retry}"

    @admin.display(description="last answer", ordering="last_status")
    def last_answer(self, message: WebhookMessage) -> str:
        if not message.attempt_count:
            return "-"
        return http_answer(message.last_status)

    @admin.display(description="body, as sent")
    def pretty_body(self, message: WebhookMessage) -> str:
        try:
            text = json.dumps(
                json.loads(services.webhooks.full_body(message)), indent=2, ensure_ascii=False
            )
        except ValueError:
            text = message.body
        return format_html('<pre class="webhook-text webhook-body">{}</pre>', text)

    def get_urls(self):
        name = MESSAGE_URLS.removeprefix("admin:")
        replay = path(
            "<path:object_id>/replay/",
            self.admin_site.admin_view(self.replay_view),
            name=f"{name}_replay",
        )
        return [replay, *super().get_urls()]

    def replay_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        message = self.get_object(request, unquote(object_id))  # another brand's: a 404
        if not self.has_replay_permission(request):
            raise PermissionDenied
        self._replay(request, [message])
        return HttpResponseRedirect(reverse(f"{MESSAGE_URLS}_change", args=[quote(message.pk)]))

    def render_change_form(self, request, context, add=False, change=False, **kwargs):
        context["has_replay_permission"] = self.has_replay_permission(request)
        return super().render_change_form(request, context, add=add, change=change, **kwargs)

    @admin.action(description="Replay: deliver the selected messages again", permissions=["replay"])
    def replay_messages(self, request, queryset):
        self._replay(request, list(queryset.select_related("subscription")))

    def _replay(self, request, selected: list[WebhookMessage]) -> None:
        due = services.replay(selected)
        held = len(selected) - due
        note = f"{due} message{'s' if due != 1 else ''} due again now, with the same webhook-id."
        if held:
            note += f" {held} held: their subscription is disabled; they go once it is enabled."
        messages.success(request, note)
