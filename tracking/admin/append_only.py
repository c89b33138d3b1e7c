"""Events are append-only, and deleting a brand, carrier, consignment, package or leg cascades
to its events: every delete path of the back office (a page, "delete selected", an inline's
Delete box) asks here first and refuses whatever would take events with it."""

from __future__ import annotations

from django import forms
from django.contrib.admin.utils import NestedObjects
from django.core.exceptions import ValidationError
from django.db import router
from django.utils.text import capfirst

from tracking.models import TrackingEvent


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
