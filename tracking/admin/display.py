"""Statuses as staff read them ("Out for delivery", not "4 OutForDelivery"): in list columns,
the status filter, read-only fields and the event form's choices. The words are the customer's
(status.status_label), so staff and customer speak of a parcel alike."""

from __future__ import annotations

from django.contrib import admin

from tracking import status as rules

READABLE_STATUS_CHOICES = [(int(s), rules.status_label(s)) for s in rules.Status]


def status_text(status: int, warning: int = 0) -> str:
    text = rules.status_label(status)
    return f"{text} (delayed)" if warning == rules.Warning.DELAY else text


class StatusFilter(admin.ChoicesFieldListFilter):
    """The status filter with readable names; the query string is Django's (status__exact=4)."""

    def choices(self, changelist):
        coded = {str(label): rules.status_label(value) for value, label in self.field.flatchoices}
        for choice in super().choices(changelist):
            display = str(choice["display"])
            for label, readable in coded.items():
                if display.startswith(label):
                    choice["display"] = readable + display[len(label) :]
                    break
            yield choice


class ReadableStatusMixin:
    """A read-only `status_label` for admins and inlines whose model has a status."""

    @admin.display(description="status", ordering="status")
    def status_label(self, obj) -> str:
        return status_text(obj.status, getattr(obj, "warning", 0))
