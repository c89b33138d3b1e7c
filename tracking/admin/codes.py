"""Carrier code mappings, for superusers: what a carrier's own code means, and the list of
codes no mapping covers yet with how many events carry them. Saving or deleting a mapping goes
through services.map_code / unmap_code, which rewrite the stored events and derive their
statuses again (design section 7.1)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode

from tracking import services
from tracking import status as rules
from tracking.models import CodeMapping

TARGET_CHOICES = [
    (code, f"{code} ({rules.status_label(status)})")
    for code, status in sorted(rules.CODE_STATUS.items())
]


class CodeMappingForm(forms.ModelForm):
    maps_to = forms.ChoiceField(choices=TARGET_CHOICES, label="Means")

    class Meta:
        model = CodeMapping
        fields = ["carrier", "code", "maps_to"]


class SuperusersOnly:
    """Mappings change every brand's events: only superusers see or touch them."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    has_add_permission = has_view_permission

    def has_change_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    has_delete_permission = has_change_permission


@admin.register(CodeMapping)
class CodeMappingAdmin(SuperusersOnly, admin.ModelAdmin):
    form = CodeMappingForm
    list_display = ["carrier", "code", "maps_to", "created_utc"]
    list_filter = ["carrier"]
    search_fields = ["code", "maps_to", "carrier__name"]
    autocomplete_fields = ["carrier"]
    change_list_template = "admin/tracking/codemapping/change_list.html"
    actions = ["delete_mappings"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # the bulk delete would skip the events
        return actions

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        for name in ("carrier", "code"):
            if name in request.GET:
                initial[name] = request.GET[name]
        return initial

    def save_model(self, request, obj, form, change):
        if change and "code" in form.changed_data:
            # A renamed code is a different mapping: the old one's events go back first.
            services.unmap_code(CodeMapping.objects.get(pk=obj.pk))
            obj.pk = None
        try:
            result = services.map_code(carrier=obj.carrier, code=obj.code, maps_to=obj.maps_to)
        except ValidationError as error:  # form validation ran the same rules; a race
            raise ValidationError(error.message_dict) from None
        obj.pk = result.mapping.pk
        self.message_user(
            request,
            f"{result.events} stored event{'s' if result.events != 1 else ''} now read "
            f"{obj.maps_to}; {result.consignments} consignment"
            f"{'s' if result.consignments != 1 else ''} derived again.",
            messages.SUCCESS,
        )

    def delete_model(self, request, obj):
        result = services.unmap_code(obj)
        self.message_user(
            request,
            f"{result.events} stored event{'s' if result.events != 1 else ''} back to "
            f"{obj.code} (unknown).",
            messages.SUCCESS,
        )

    def delete_queryset(self, request, queryset):
        for mapping in queryset:
            services.unmap_code(mapping)

    @admin.action(description="Delete the selected mappings (their events read unknown again)")
    def delete_mappings(self, request, queryset):
        count = queryset.count()
        self.delete_queryset(request, queryset)
        self.message_user(request, f"{count} mapping{'s' if count != 1 else ''} deleted.")

    def get_urls(self):
        unmapped = path(
            "unmapped/",
            self.admin_site.admin_view(self.unmapped_view),
            name="tracking_codemapping_unmapped",
        )
        return [unmapped, *super().get_urls()]

    def unmapped_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        add = reverse("admin:tracking_codemapping_add")
        rows = [
            {
                "code": row,
                "map_url": f"{add}?{urlencode({'carrier': row.carrier_id, 'code': row.code})}"
                if row.carrier_id
                else "",
            }
            for row in services.unmapped_codes()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Unmapped carrier codes",
            "opts": self.model._meta,
            "rows": rows,
            "limit": services.UNMAPPED_LIMIT,
        }
        return TemplateResponse(request, "admin/tracking/codemapping/unmapped.html", context)
