"""Who sees what in the back office (design section 7.5): every admin of brand data is a
`BrandScopedAdmin`, every admin of what all brands share is a `SharedAdmin`, and both ask
tracking.access.staff_scope, the one door. A superuser sees every brand, brand staff
(`createstaff`) their own brand, and staff of no brand nothing.

Scoping the admin's queryset scopes its changelist, change, delete and history pages, its
actions, search, date hierarchy, autocomplete answers and exports; the choices of every foreign
key and many-to-many field, and of every related list filter, are cut the same way, so neither
a form nor a filter names another brand's objects. An object outside the scope is a 404, as
one that does not exist (Django's admin would redirect with a "doesn't exist" message).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import Http404

from tracking import access
from tracking.models import (
    ApiKey,
    Brand,
    Consignment,
    EmailSubscriber,
    OutboundEmail,
    Package,
    TrackingEvent,
    TrackingRecord,
    WebhookAttempt,
    WebhookMessage,
    WebhookSubscription,
)

# The path from each brand-owned model to its Brand (StaffScope.limit's `brand_path`).
BRAND_PATHS: dict[type[Model], str] = {
    Brand: "pk",
    Consignment: "brand",
    Package: "consignment__brand",
    TrackingRecord: "consignment__brand",
    TrackingEvent: "tracking_record__consignment__brand",
    ApiKey: "brand",  # carrier keys have none: superusers only
    WebhookSubscription: "brand",
    WebhookMessage: "subscription__brand",
    WebhookAttempt: "message__subscription__brand",
    EmailSubscriber: "consignment__brand",
    OutboundEmail: "subscriber__consignment__brand",
}


def scoped(request, queryset: QuerySet) -> QuerySet:
    """`queryset` cut to what the request's user may see: brand data by its brand, shared data
    (carriers, thresholds, code mappings) for superusers only."""
    scope = access.staff_scope(request.user)
    path = BRAND_PATHS.get(queryset.model)
    if path is not None:
        return scope.limit(queryset, path)
    return queryset if scope.every_brand else queryset.none()


class ScopedChoicesMixin:
    """Foreign-key and many-to-many choices cut to the user's scope; the form validates a
    posted id against the same choices, so another brand's object cannot be picked."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scoped(request, field.queryset)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scoped(request, field.queryset)
        return field


class BrandScopedAdmin(ScopedChoicesMixin):
    """A ModelAdmin of brand data (BRAND_PATHS): rows, pages and choices of the user's scope.

    Permissions stay Django's (createstaff puts brand staff in the "Brand staff" group); this
    decides which rows they apply to."""

    def get_queryset(self, request):
        return scoped(request, super().get_queryset(request))

    def get_object(self, request, object_id, from_field=None):
        # The change, delete and history pages of an object outside the scope (or of none):
        # the same 404 for "does not exist" and "not yours", before any permission is asked
        # (Django's admin would answer 403 or redirect with a "doesn't exist" message).
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} here.")
        return obj

    @staticmethod
    def every_brand(request) -> bool:
        return access.staff_scope(request.user).every_brand


class BrandScopedInline(ScopedChoicesMixin):
    """An inline of brand data: its rows belong to the (scoped) parent; its choices are cut."""

    def get_queryset(self, request):
        return scoped(request, super().get_queryset(request))


class SharedAdmin:
    """What every brand shares (carriers and their keys, thresholds, code mappings, suppressed
    email addresses): superusers only, whatever permissions a staff user was given."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request, *args) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)


class ScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A related list filter (brand, carrier) listing only what the user's rows refer to, when
    the user is not a superuser; a superuser's choices are every row, in one query as before."""

    def field_choices(self, field, request, model_admin):
        if access.staff_scope(request.user).every_brand:
            return super().field_choices(field, request, model_admin)
        referred = model_admin.get_queryset(request).values_list(f"{self.field_path}__pk")
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False, limit_choices_to={"pk__in": referred}, ordering=ordering
        )


# What brand staff may do, as Django permissions of the "Brand staff" group that createstaff
# puts them in (the rows they apply to are the scope's): their brand viewed; its consignments,
# packages, legs and client keys viewed, added and changed; events viewed and added (events are
# append-only); webhook subscriptions viewed, added, changed and deleted (as the brand's own
# client may over /v1), their deliveries and attempts viewed (replaying one is a change of its
# subscription); email subscribers and their emails viewed (unsubscribing one or suppressing
# its address is a change of the subscriber). Nothing else is deleted by brand staff.
BRAND_STAFF_GROUP = "Brand staff"
BRAND_STAFF_PERMISSIONS: dict[type[Model], tuple[str, ...]] = {
    Brand: ("view",),
    Consignment: ("view", "add", "change"),
    Package: ("view", "add", "change"),
    TrackingRecord: ("view", "add", "change"),
    TrackingEvent: ("view", "add"),
    ApiKey: ("view", "add", "change"),
    WebhookSubscription: ("view", "add", "change", "delete"),
    WebhookMessage: ("view",),
    WebhookAttempt: ("view",),
    EmailSubscriber: ("view", "change"),
    OutboundEmail: ("view",),
}
