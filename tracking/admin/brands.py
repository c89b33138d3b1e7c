"""Brands and carriers: who a consignment belongs to and who carries its legs. Both cascade to
events when deleted, so both keep them; carriers are searchable for the mappings' autocomplete.

Brand staff may view their own brand (its embed snippet, colours, time zone, whether its
recipients are emailed without opting in); only superusers add, change or delete brands.
Carriers are shared by every brand: superusers only. A carrier is not renamed here: a leg's
carrier follows the leg's carrier name (forms.LEG_CARRIER_FIELDS), so a new name is a new
carrier, and renaming this row would make the filters disagree with the names the legs, the
page and the APIs show."""

from __future__ import annotations

from django.contrib import admin

from tracking.admin.append_only import KeepEventsOnDeleteMixin
from tracking.admin.scope import BrandScopedAdmin, SharedAdmin
from tracking.models import Brand, Carrier


@admin.register(Brand)
class BrandAdmin(BrandScopedAdmin, KeepEventsOnDeleteMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "default_language", "time_zone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    change_form_template = "admin/tracking/brand/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "slug"]}),
        ("Look", {"fields": ["logo_url", "primary_colour", "accent_colour"]}),
        ("Support", {"fields": ["support_email", "support_url"]}),
        ("Page", {"fields": ["default_language", "time_zone", "embed_origins"]}),
        ("Customer emails", {"fields": ["notify_recipient"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def render_change_form(self, request, context, add=False, change=False, **kwargs):
        # The snippet names this portal as the brand's shop will reach it.
        script = f"{request.scheme}://{request.get_host()}/static/tracking/embed.js"
        context["embed_snippet"] = (
            f'<script src="{script}" data-reference="EC-XXX-XXX-XXX" async></script>'
        )
        return super().render_change_form(request, context, add=add, change=change, **kwargs)


@admin.register(Carrier)
class CarrierAdmin(SharedAdmin, KeepEventsOnDeleteMixin, admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]

    def get_readonly_fields(self, request, obj=None):
        return ["name"] if obj is not None else []
