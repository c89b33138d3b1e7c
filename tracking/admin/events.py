"""Events in the back office: listed, viewed and added, never edited or deleted (they are
append-only). An added event goes through services.record_event with the admin as its source,
so it is de-duplicated and derives statuses exactly as one sent over either API."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from tracking import services
from tracking.admin.display import ReadableStatusMixin, StatusFilter
from tracking.admin.forms import EventAddForm
from tracking.admin.scope import BrandScopedAdmin, BrandScopedInline, ScopedRelatedFilter
from tracking.models import EventSource, TrackingEvent


class EventInline(BrandScopedInline, ReadableStatusMixin, admin.TabularInline):
    """A leg's events, read-only: events are append-only."""

    model = TrackingEvent
    fields = [
        "occurred_at",
        "code",
        "status_label",
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


@admin.register(TrackingEvent)
class TrackingEventAdmin(BrandScopedAdmin, ReadableStatusMixin, admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "code",
        "status_label",
        "tracking_record",
        "consignment_reference",
        "package",
        "source",
    ]
    list_filter = [
        ("status", StatusFilter),
        "source",
        ("tracking_record__carrier", ScopedRelatedFilter),
    ]
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
        return self.get_fields(request, obj)

    def get_fields(self, request, obj=None):
        if obj is None:
            return super().get_fields(request, obj)
        # An event's page, read-only, with its status in words.
        names = [f.name for f in TrackingEvent._meta.fields]
        return [("status_label" if name == "status" else name) for name in names]

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
