"""Consignments and their legs, with packages and legs edited inline. Staff edit these rows
directly rather than through a service, so each save re-derives the statuses it may have
moved; the actions (re-derive, export, erase) call the services, as the APIs and the operators'
commands do."""

from __future__ import annotations

import json

from django.contrib import admin
from django.contrib.admin import helpers
from django.db import transaction
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from tracking import services
from tracking import status as rules
from tracking.admin.append_only import KeepEventsInlineFormSet, KeepEventsOnDeleteMixin
from tracking.admin.events import EventInline
from tracking.admin.forms import LEG_CARRIER_FIELDS, LegAdminForm
from tracking.models import Consignment, Package, TrackingRecord


class PackageInline(admin.TabularInline):
    model = Package
    formset = KeepEventsInlineFormSet
    fields = ["reference", "description", "sequence", "status"]
    readonly_fields = ["status"]
    extra = 0


class LegInline(admin.TabularInline):
    model = TrackingRecord
    formset = KeepEventsInlineFormSet
    fields = ["sequence", *LEG_CARRIER_FIELDS, "status", "edit_link"]
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
    # What the form edits, then what is derived or stamped and shown read-only.
    fields = [
        *LegAdminForm.Meta.fields,
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
