"""API keys: issued and rotated through the services, so a secret is shown once and stored only
as its hash; revoking locks the keys, so two staff revoking at once log each key once."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.html import format_html

from tracking import access, services
from tracking.admin.forms import ApiKeyAddForm
from tracking.admin.scope import BrandScopedAdmin, ScopedRelatedFilter
from tracking.models import ApiKey

# A key's page: who it is for, how to tell it apart, and its life.
KEY_FIELDS = [
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


@admin.register(ApiKey)
class ApiKeyAdmin(BrandScopedAdmin, admin.ModelAdmin):
    """Client keys are brand data (brand staff issue and revoke their brand's); carrier keys
    belong to no brand and are for superusers (scope.BRAND_PATHS)."""

    list_display = ["name", "owner", "prefix", "last_used", "expires_at", "active"]
    list_filter = [
        "role",
        "active",
        ("brand", ScopedRelatedFilter),
        ("carrier", ScopedRelatedFilter),
    ]
    list_select_related = ["brand", "carrier"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["role", "prefix", "created", "last_used"]
    actions = ["revoke", "rotate"]

    @admin.display(description="for", ordering="role")
    def owner(self, key: ApiKey) -> str:
        return f"Carrier {key.carrier}" if key.is_carrier else f"Brand {key.brand}"

    def get_list_filter(self, request):
        if self.every_brand(request):
            return self.list_filter
        return ["active"]  # their keys are all client keys of their one brand

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            if self.every_brand(request):
                return [*ApiKeyAddForm.Meta.fields]
            return [f for f in ApiKeyAddForm.Meta.fields if f != "carrier"]
        return KEY_FIELDS

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        brand_id = access.staff_scope(request.user).brand_id
        if brand_id is not None:
            initial.setdefault("brand", brand_id)
        return initial

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

    @admin.action(description="Revoke the selected keys", permissions=["change"])
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

    @admin.action(
        description="Rotate: issue a new secret; the old one works for 24 hours more",
        permissions=["change"],
    )
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
