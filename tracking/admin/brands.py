"""Brands and carriers: who a consignment belongs to and who carries its legs. Both cascade to
events when deleted, so both keep them; carriers are searchable for the legs' autocomplete."""

from __future__ import annotations

from django.contrib import admin

from tracking.admin.append_only import KeepEventsOnDeleteMixin
from tracking.models import Brand, Carrier


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
