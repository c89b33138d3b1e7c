"""The back office: staff manage brands, carriers, consignments, legs, events and API keys.

Events are append-only here as everywhere: staff add them through the same service the APIs
use, and never edit or delete them. Statuses are derived, never typed in.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import NestedObjects
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst

from tracking import services
from tracking import status as rules
from tracking.fields import check_event_time
from tracking.models import (
    ApiKey,
    Brand,
    Carrier,
    Consignment,
    EventSource,
    Package,
    TrackingEvent,
    TrackingRecord,
)


def events_deleted_with(objs) -> int:
    """How many events deleting `objs` would cascade to, found by the collector Django's own
    delete uses, so every path (a row, a page, a bulk action, a brand) is judged the same way."""
    collector = NestedObjects(using=router.db_for_write(TrackingEvent))
    collector.collect(objs)
    return len(collector.model_objs.get(TrackingEvent, ()))


class KeepEventsOnDeleteMixin:
    """Delete pages and the "delete selected" action refuse whatever would take events with it.

    The events appear as protected objects, so Django shows why and offers no confirm button,
    and a forged confirmation re-renders the page instead of deleting (or answering 403).
    """

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        events = events_deleted_with(objs)
        if events:
            # The reason is the rule, not a missing permission that a superuser could have.
            perms_needed.discard(TrackingEvent._meta.verbose_name)
            protected = [*protected, f"{events} tracking event(s): events are append-only"]
        return deleted, counts, perms_needed, protected


class KeepEventsInlineFormSet(forms.BaseInlineFormSet):
    """An inline's Delete checkbox cascades like any delete, but the admin checks no permission
    of the rows it cascades to: refuse here any row whose deletion would take events with it."""

    def clean(self):
        super().clean()
        refusals = []
        for form in self.forms:
            if form.instance._state.adding or not self._should_delete_form(form):
                continue
            events = events_deleted_with([form.instance])
            if events:
                refusals.append(
                    f"{capfirst(self.model._meta.verbose_name)} “{form.instance}” cannot be "
                    f"deleted: its {events} tracking event(s) would go with it, and events are "
                    "append-only."
                )
        if refusals:
            raise ValidationError(refusals)


@admin.register(Brand)
class BrandAdmin(KeepEventsOnDeleteMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "default_language", "time_zone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    change_form_template = "admin/tracking/brand/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "slug"]}),
        ("Look", {"fields": ["logo_url", "primary_colour", "accent_colour"]}),
        ("Support", {"fields": ["support_email", "support_url"]}),
        ("Page", {"fields": ["default_language", "time_zone", "embed_origins"]}),
    ]

    def render_change_form(self, request, context, add=False, change=False, **kwargs):
        # The snippet names this portal as the brand's shop will reach it.
        script = f"{request.scheme}://{request.get_host()}/static/tracking/embed.js"
        context["embed_snippet"] = (
            f'<script src="{script}" data-reference="EC-XXX-XXX-XXX" async></script>'
        )
        return super().render_change_form(request, context, add=add, change=change, **kwargs)


@admin.register(Carrier)
class CarrierAdmin(KeepEventsOnDeleteMixin, admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


class PackageInline(admin.TabularInline):
    model = Package
    formset = KeepEventsInlineFormSet
    fields = ["reference", "description", "sequence", "status"]
    readonly_fields = ["status"]
    extra = 0


class LegInline(admin.TabularInline):
    model = TrackingRecord
    formset = KeepEventsInlineFormSet
    fields = [
        "sequence",
        "carrier",
        "carrier_name",
        "carrier_service_name",
        "tracking_number",
        "tracking_url",
        "status",
        "edit_link",
    ]
    readonly_fields = ["status", "edit_link"]
    autocomplete_fields = ["carrier"]
    extra = 0
    show_change_link = True

    @admin.display(description="Events")
    def edit_link(self, leg: TrackingRecord) -> str:
        if not leg.pk:
            return "-"
        url = reverse("admin:tracking_trackingrecord_change", args=[leg.pk])
        return format_html('<a href="{}">Events and packages</a>', url)


class RederiveOnSaveMixin:
    """Staff edits save rows directly; re-deriving afterwards keeps statuses and the page's
    revision consistent with whatever changed (coverage, new packages, new legs)."""

    def save_related(self, request, form, formsets, change):
        with transaction.atomic():
            super().save_related(request, form, formsets, change)
            services.rederive(self.consignment_of(form.instance))


@admin.register(Consignment)
class ConsignmentAdmin(KeepEventsOnDeleteMixin, RederiveOnSaveMixin, admin.ModelAdmin):
    list_display = [
        "reference",
        "brand",
        "customer_reference",
        "status_label",
        "destination_town",
        "expected_delivery_date",
        "created_utc",
    ]
    list_filter = ["brand", "status", "legs__carrier"]
    list_select_related = ["brand"]
    search_fields = [
        "^reference",
        "customer_reference",
        "^packages__reference",
        "legs__tracking_number",
    ]
    search_help_text = "Consignment or package reference, customer reference or tracking number."
    date_hierarchy = "created_utc"
    readonly_fields = ["id", "status", "created_utc", "modified_utc", "revision", "page_link"]
    fieldsets = [
        (None, {"fields": ["reference", "brand", "customer_reference", "page_link"]}),
        (
            "Destination (private)",
            {
                "fields": [
                    "recipient_name",
                    "recipient_email",
                    "destination_address",
                    "destination_town",
                    "destination_postcode",
                    "destination_country",
                ]
            },
        ),
        ("Delivery", {"fields": ["expected_delivery_date", "status"]}),
        ("Record", {"fields": ["id", "created_utc", "modified_utc", "revision"]}),
    ]
    inlines = [PackageInline, LegInline]
    actions = ["rederive_statuses", "export_json", "erase_recipient_data"]

    def consignment_of(self, consignment: Consignment) -> Consignment:
        return consignment

    @admin.display(description="status", ordering="status")
    def status_label(self, consignment: Consignment) -> str:
        return f"{consignment.status} {rules.STATUS_NAMES[rules.Status(consignment.status)]}"

    @admin.display(description="tracking page")
    def page_link(self, consignment: Consignment) -> str:
        if not consignment.pk:
            return "-"
        return format_html(
            '<a href="/track/{0}/" target="_blank" rel="noopener">/track/{0}/</a>',
            consignment.reference,
        )

    @admin.action(description="Re-derive statuses from events")
    def rederive_statuses(self, request, queryset):
        for consignment in queryset:
            services.rederive(consignment)
        self.message_user(request, f"Re-derived {queryset.count()} consignment(s).")

    @admin.action(description="Export everything stored (JSON)")
    def export_json(self, request, queryset):
        exported = [services.export_consignment(c) for c in queryset.select_related("brand")]
        response = HttpResponse(
            json.dumps(exported, indent=2), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="consignments.json"'
        return response

    @admin.action(description="Erase recipient data (privacy request)")
    def erase_recipient_data(self, request, queryset):
        if request.POST.get("confirmed") == "yes":
            for consignment in queryset:
                services.erase_recipient(consignment)
                self.log_change(request, consignment, "Erased recipient data on request.")
            self.message_user(request, f"Erased the recipient data of {queryset.count()}.")
            return None
        return TemplateResponse(
            request,
            "admin/tracking/erase_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "title": "Erase recipient data?",
                "consignments": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )


class EventInline(admin.TabularInline):
    """A leg's events, read-only: events are append-only."""

    model = TrackingEvent
    fields = [
        "occurred_at",
        "code",
        "status",
        "package",
        "description",
        "location",
        "signed_by",
        "source",
        "received_at",
    ]
    readonly_fields = fields
    ordering = ["-occurred_at", "-received_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("package")


class LegAdminForm(forms.ModelForm):
    class Meta:
        model = TrackingRecord
        fields = [
            "consignment",
            "sequence",
            "carrier",
            "carrier_name",
            "carrier_service_name",
            "tracking_number",
            "tracking_url",
            "integration_name",
            "packages",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        consignment_id = self.instance.consignment_id if self.instance.pk else None
        if "packages" in self.fields:
            self.fields["packages"].queryset = Package.objects.filter(consignment_id=consignment_id)

    def clean(self):
        data = super().clean()
        packages, consignment = data.get("packages"), data.get("consignment")
        if packages and consignment and any(p.consignment_id != consignment.pk for p in packages):
            raise ValidationError({"packages": "Choose packages of this leg's consignment."})
        return data


@admin.register(TrackingRecord)
class TrackingRecordAdmin(KeepEventsOnDeleteMixin, RederiveOnSaveMixin, admin.ModelAdmin):
    form = LegAdminForm
    list_display = [
        "__str__",
        "consignment",
        "carrier",
        "tracking_number",
        "status",
        "sequence",
        "modified_utc",
    ]
    list_filter = ["status", "carrier", "consignment__brand"]
    list_select_related = ["consignment", "carrier"]
    search_fields = ["tracking_number", "=consignment__reference", "carrier_name"]
    search_help_text = "Tracking number, consignment reference or carrier name."
    autocomplete_fields = ["consignment", "carrier"]
    filter_horizontal = ["packages"]
    readonly_fields = [
        "id",
        "status",
        "created_utc",
        "modified_utc",
        "last_updated_date",
        "add_event_link",
    ]
    fields = [
        "consignment",
        "sequence",
        "carrier",
        "carrier_name",
        "carrier_service_name",
        "tracking_number",
        "tracking_url",
        "integration_name",
        "packages",
        "status",
        "add_event_link",
        "id",
        "created_utc",
        "modified_utc",
        "last_updated_date",
    ]
    inlines = [EventInline]

    def consignment_of(self, leg: TrackingRecord) -> Consignment:
        return leg.consignment

    def get_changeform_initial_data(self, request):
        return {**super().get_changeform_initial_data(request), "integration_name": "Back office"}

    @admin.display(description="add an event")
    def add_event_link(self, leg: TrackingRecord) -> str:
        if not leg.pk:
            return "Save the leg first."
        url = reverse("admin:tracking_trackingevent_add") + f"?tracking_record={leg.pk}"
        return format_html('<a class="addlink" href="{}">Add an event to this leg</a>', url)


class EventAddForm(forms.ModelForm):
    """Staff add an event through services.record_event, exactly as an API client would."""

    status = forms.TypedChoiceField(
        choices=[("", "(from the code)"), *rules.STATUS_CHOICES],
        coerce=int,
        empty_value=None,
        required=False,
    )
    code = forms.CharField(
        required=False,
        max_length=rules.CODE_MAX_LENGTH,
        help_text="e.g. DELIVERED or OUT_FOR_DELIVERY; leave blank to use the status's code.",
    )
    occurred_at = forms.SplitDateTimeField(
        widget=admin.widgets.AdminSplitDateTime, initial=timezone.now
    )

    class Meta:
        model = TrackingEvent
        fields = [
            "tracking_record",
            "package",
            "status",
            "code",
            "description",
            "location",
            "signed_by",
            "occurred_at",
        ]

    def clean(self):
        data = super().clean()
        if data.get("status") is None and not data.get("code"):
            raise ValidationError("Give a status, a code, or both.")
        if data.get("code"):
            try:
                data["code"] = rules.normalise_code(data["code"])
            except ValueError as error:
                self.add_error("code", f"Code {error}.")
        leg, package = data.get("tracking_record"), data.get("package")
        if leg and package and not leg.carries(package):
            self.add_error("package", "Choose a package this leg carries.")
        if data.get("occurred_at"):
            problem = check_event_time(data["occurred_at"], timezone.now())
            if problem is not None:
                self.add_error("occurred_at", services.rule_message(problem))
        return data


@admin.register(TrackingEvent)
class TrackingEventAdmin(admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "code",
        "status",
        "tracking_record",
        "consignment_reference",
        "package",
        "source",
    ]
    list_filter = ["status", "source", "tracking_record__carrier"]
    list_select_related = ["tracking_record__consignment", "package"]
    search_fields = [
        "=tracking_record__consignment__reference",
        "tracking_record__tracking_number",
        "=package__reference",
        "code",
    ]
    autocomplete_fields = ["tracking_record"]
    date_hierarchy = "occurred_at"

    @admin.display(description="consignment")
    def consignment_reference(self, event: TrackingEvent) -> str:
        return event.tracking_record.consignment.reference

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = EventAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in TrackingEvent._meta.fields]

    def has_change_permission(self, request, obj=None) -> bool:
        # Viewing is allowed (view permission); edits are not: events are append-only.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        stored = services.record_event(
            leg=data["tracking_record"],
            package=data.get("package"),
            status=data.get("status"),
            code=data.get("code") or None,
            description=data.get("description", ""),
            location=data.get("location", ""),
            signed_by=data.get("signed_by", ""),
            occurred_at=data["occurred_at"],
            source=EventSource.ADMIN,
        )
        if not stored:
            messages.warning(request, "An identical event was already stored; nothing added.")
        obj._leg = data["tracking_record"]

    def save_related(self, request, form, formsets, change):
        pass  # the event has no related objects and was stored by the service

    def response_add(self, request, obj, post_url_continue=None):
        messages.success(request, f"Event {obj.code or ''} recorded.".replace("  ", " "))
        return HttpResponseRedirect(
            reverse("admin:tracking_trackingrecord_change", args=[obj._leg.pk])
        )


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "brand", "carrier", "expires_at"]
        help_texts = {
            "brand": "For a client key (a shop or warehouse system): its brand.",
            "carrier": "For a carrier key: the carrier whose legs it may post events for.",
        }

    def clean(self):
        data = super().clean()
        if bool(data.get("brand")) == bool(data.get("carrier")):
            raise ValidationError("Choose either a brand (client key) or a carrier (carrier key).")
        if data.get("expires_at") and data["expires_at"] <= timezone.now():
            self.add_error("expires_at", "Choose a time in the future.")
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "role",
        "brand",
        "carrier",
        "prefix",
        "created",
        "last_used",
        "expires_at",
        "active",
    ]
    list_filter = ["role", "active", "brand", "carrier"]
    list_select_related = ["brand", "carrier"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["role", "prefix", "created", "last_used"]
    actions = ["revoke", "rotate"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "brand", "carrier", "expires_at"]
        return [
            "name",
            "role",
            "brand",
            "carrier",
            "prefix",
            "created",
            "last_used",
            "expires_at",
            "active",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.readonly_fields, "brand", "carrier"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, secret = services.issue_api_key(
            name=form.cleaned_data["name"],
            brand=form.cleaned_data.get("brand"),
            carrier=form.cleaned_data.get("carrier"),
            expires_at=form.cleaned_data.get("expires_at"),
        )
        # The admin logs and links the object it was given: make it the key just issued.
        obj.__dict__.update({k: v for k, v in key.__dict__.items() if k != "_state"})
        obj._state.adding = False
        messages.warning(
            request,
            format_html(
                "Copy this key now; it is shown only once and cannot be recovered: <code>{}</code>",
                secret,
            ),
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        # The keys are listed before they change: re-reading the changelist's queryset after
        # the update finds none of them when the list is filtered to active keys.
        selected = list(queryset.values_list("pk", flat=True))
        with transaction.atomic():
            # Locked, so two staff revoking the same keys at once record each revocation once.
            keys = list(ApiKey.objects.select_for_update().filter(pk__in=selected, active=True))
            ApiKey.objects.filter(pk__in=[key.pk for key in keys]).update(active=False)
            for key in keys:
                self.log_change(request, key, "Revoked.")
        self.message_user(request, f"Revoked {len(keys)} key(s).")

    @admin.action(description="Rotate: issue a new secret; the old one works for 24 hours more")
    def rotate(self, request, queryset):
        for key in queryset:
            try:
                new_key, secret = services.rotate_api_key(key=key)
            except ValidationError as error:
                messages.error(request, f"{key}: {error.messages[0]}")
                continue
            self.log_change(request, key, f"Rotated; replaced by key {new_key.pk}.")
            messages.warning(
                request,
                format_html(
                    "New secret for {} (shown only once): <code>{}</code>", new_key.name, secret
                ),
            )
