"""Consignments and their legs, with packages and legs edited inline. Staff edit these rows
directly rather than through a service, so each save re-derives the statuses it may have
moved; the actions (re-derive, export, erase) call the services, as the APIs and the operators'
commands do. Every admin here is brand-scoped (scope.BrandScopedAdmin); the consignment search
is the support desk's (search.py) and the filtered list exports as CSV (export.py)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from tracking import access, services
from tracking.admin.append_only import KeepEventsInlineFormSet, KeepEventsOnDeleteMixin
from tracking.admin.desk import WatchFilter
from tracking.admin.display import ReadableStatusMixin, StatusFilter
from tracking.admin.events import EventInline
from tracking.admin.export import csv_lines
from tracking.admin.forms import LegAdminForm
from tracking.admin.scope import BrandScopedAdmin, BrandScopedInline, ScopedRelatedFilter
from tracking.admin.search import search_consignments
from tracking.models import Consignment, Package, TrackingRecord


class PackageInline(BrandScopedInline, ReadableStatusMixin, admin.TabularInline):
    model = Package
    formset = KeepEventsInlineFormSet
    fields = ["reference", "description", "sequence", "status_label"]
    readonly_fields = ["status_label"]
    extra = 0


class LegInline(BrandScopedInline, ReadableStatusMixin, admin.TabularInline):
    model = TrackingRecord
    form = LegAdminForm
    formset = KeepEventsInlineFormSet
    # The service name and tracking URL are edited on the leg's own page: the row fits 1280 px.
    fields = ["sequence", "carrier_name", "tracking_number", "status_label", "edit_link"]
    readonly_fields = ["status_label", "edit_link"]
    extra = 0
    show_change_link = True

    @admin.display(description="Events")
    def edit_link(self, leg: TrackingRecord) -> str:
        if leg._state.adding:
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


class SuperusersSeeBrandsMixin:
    """Brand staff see one brand: its column and filter would say nothing, so they go."""

    brand_columns: tuple[str, ...] = ()

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        if self.every_brand(request):
            return columns
        return [c for c in columns if c not in self.brand_columns]

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if self.every_brand(request):
            return filters
        return [f for f in filters if _filter_path(f) not in self.brand_columns]


def _filter_path(list_filter) -> str:
    return list_filter[0] if isinstance(list_filter, tuple) else str(list_filter)


@admin.register(Consignment)
class ConsignmentAdmin(
    BrandScopedAdmin,
    SuperusersSeeBrandsMixin,
    KeepEventsOnDeleteMixin,
    RederiveOnSaveMixin,
    ReadableStatusMixin,
    admin.ModelAdmin,
):
    list_display = [
        "reference",
        "brand",
        "customer_reference",
        "recipient_name",
        "status_label",
        "destination",
        "expected_delivery_date",
        "created_utc",
    ]
    brand_columns = ("brand", "consignment__brand")
    list_filter = [
        ("brand", ScopedRelatedFilter),
        ("status", StatusFilter),
        ("legs__carrier", ScopedRelatedFilter),
        WatchFilter,
    ]
    list_select_related = ["brand"]
    # What the search box is for; get_search_results decides how each kind is matched.
    search_fields = ["reference"]
    search_help_text = (
        "A consignment or package reference, an order or tracking number, or the recipient's "
        "name, email or postcode (any case; whole values)."
    )
    date_hierarchy = "created_utc"
    readonly_fields = [
        "id",
        "status_label",
        "created_utc",
        "modified_utc",
        "revision",
        "page_link",
    ]
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
        ("Delivery", {"fields": ["expected_delivery_date", "status_label"]}),
        ("Record", {"fields": ["id", "created_utc", "modified_utc", "revision"]}),
    ]
    inlines = [PackageInline, LegInline]
    actions = ["rederive_statuses", "export_json", "erase_recipient_data"]
    change_list_template = "admin/tracking/consignment/change_list.html"

    def consignment_of(self, consignment: Consignment) -> Consignment:
        return consignment

    def get_search_results(self, request, queryset, search_term):
        # Exact matches on indexed expressions, never duplicates (search.py).
        return search_consignments(queryset, search_term), False

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        brand_id = self.scope_brand_id(request)
        if brand_id is not None:
            initial.setdefault("brand", brand_id)
        return initial

    @staticmethod
    def scope_brand_id(request) -> int | None:
        return access.staff_scope(request.user).brand_id

    @admin.display(description="destination", ordering="destination_postcode")
    def destination(self, consignment: Consignment) -> str:
        parts = (consignment.destination_postcode, consignment.destination_town)
        return " ".join(part for part in parts if part)

    @admin.display(description="tracking page")
    def page_link(self, consignment: Consignment) -> str:
        if consignment._state.adding:
            return "-"
        return format_html(
            '<a href="/track/{0}/" target="_blank" rel="noopener">/track/{0}/</a>',
            consignment.reference,
        )

    # -- CSV export of the filtered list -----------------------------------------------------

    def get_urls(self):
        export = path(
            "export.csv",
            self.admin_site.admin_view(self.export_csv_view),
            name="tracking_consignment_export",
        )
        return [export, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        query = request.GET.urlencode()
        url = reverse("admin:tracking_consignment_export") + (f"?{query}" if query else "")
        return super().changelist_view(request, {**(extra_context or {}), "export_url": url})

    def export_csv_view(self, request):
        """The changelist's rows (its filters, search and order, the user's scope), as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Those filters do not apply to consignments.")
        response = StreamingHttpResponse(
            csv_lines(changelist.queryset), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="consignments.csv"'
        response["Cache-Control"] = "private, no-store"
        return response

    @admin.action(description="Re-derive statuses from events", permissions=["change"])
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

    @admin.action(description="Erase recipient data (privacy request)", permissions=["change"])
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
class TrackingRecordAdmin(
    BrandScopedAdmin,
    SuperusersSeeBrandsMixin,
    KeepEventsOnDeleteMixin,
    RederiveOnSaveMixin,
    ReadableStatusMixin,
    admin.ModelAdmin,
):
    form = LegAdminForm
    list_display = [
        "__str__",
        "consignment",
        "carrier_name",
        "tracking_number",
        "status_label",
        "sequence",
        "modified_utc",
    ]
    brand_columns = ("consignment__brand",)
    list_filter = [
        ("status", StatusFilter),
        ("carrier", ScopedRelatedFilter),
        ("consignment__brand", ScopedRelatedFilter),
    ]
    list_select_related = ["consignment"]
    search_fields = ["tracking_number", "=consignment__reference", "carrier_name"]
    search_help_text = "Tracking number, consignment reference or carrier name."
    autocomplete_fields = ["consignment"]
    filter_horizontal = ["packages"]
    readonly_fields = [
        "id",
        "status_label",
        "created_utc",
        "modified_utc",
        "last_updated_date",
        "add_event_link",
    ]
    # What the form edits, then what is derived or stamped and shown read-only.
    fields = [
        *LegAdminForm.Meta.fields,
        "status_label",
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
        if leg._state.adding:
            return "Save the leg first."
        url = reverse("admin:tracking_trackingevent_add") + f"?tracking_record={leg.pk}"
        return format_html('<a class="addlink" href="{}">Add an event to this leg</a>', url)
