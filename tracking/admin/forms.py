"""Staff input, checked before any service sees it: an event by the rules the APIs apply (its
code, the event-time window, a package its leg carries, chosen among that leg's packages only),
a leg's packages within its own consignment and its carrier by name, a key with one owner (a
brand or a carrier) and an expiry still to come."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone

from tracking import services
from tracking import status as rules
from tracking.admin.display import READABLE_STATUS_CHOICES
from tracking.fields import check_event_time
from tracking.models import ApiKey, Carrier, Package, TrackingEvent, TrackingRecord

# Who carries a leg and how to follow it. The carrier is named, never picked apart from its
# name: the name is what the page and both APIs show, and the leg's Carrier (what filters,
# carrier keys and the scorecard go by) follows it through Carrier.objects.for_name, as the
# services do for a leg created or changed over either API.
LEG_CARRIER_FIELDS = [
    "carrier_name",
    "carrier_service_name",
    "tracking_number",
    "tracking_url",
]


class LegAdminForm(forms.ModelForm):
    class Meta:
        model = TrackingRecord
        fields = [
            "consignment",
            "sequence",
            *LEG_CARRIER_FIELDS,
            "integration_name",
            "packages",
        ]

        labels = {"carrier_name": "Carrier"}
        help_texts = {
            "carrier_name": "The carrier's name as customers see it; the leg belongs to the "
            "carrier of that name (any case), added when new."
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        consignment_id = self.instance.consignment_id if self.instance.pk else None
        if "packages" in self.fields:
            self.fields["packages"].queryset = Package.objects.filter(consignment_id=consignment_id)

    def save(self, commit=True):
        leg = self.instance
        name = leg.carrier_name.strip()
        if "carrier_name" in self.changed_data or leg._state.adding:
            # services.update_leg's rule: a new name is a (possibly new) carrier; none is none.
            leg.carrier_name = name
            leg.carrier = Carrier.objects.for_name(name) if name else None
        return super().save(commit)

    def clean(self):
        data = super().clean()
        if "carrier_name" in self.fields and not (data.get("carrier_name") or "").strip():
            # No name, no carrier (else the model's clean would give the old carrier's name back).
            self.instance.carrier = None
        packages, consignment = data.get("packages"), data.get("consignment")
        if packages and consignment and any(p.consignment_id != consignment.pk for p in packages):
            raise ValidationError({"packages": "Choose packages of this leg's consignment."})
        return data


class EventAddForm(forms.ModelForm):
    """Staff add an event through services.record_event, exactly as an API client would."""

    status = forms.TypedChoiceField(
        choices=[("", "(from the code)"), *READABLE_STATUS_CHOICES],
        coerce=int,
        empty_value=None,
        required=False,
    )
    code = forms.CharField(
        required=False,
        max_length=rules.CODE_MAX_LENGTH,
        help_text="e.g. DELIVERED or OUT_FOR_DELIVERY; leave blank to use the status's code.",
    )
    occurred_at = forms.SplitDateTimeField(
        widget=admin.widgets.AdminSplitDateTime, initial=timezone.now
    )

    class Meta:
        model = TrackingEvent
        fields = [
            "tracking_record",
            "package",
            "status",
            "code",
            "description",
            "location",
            "signed_by",
            "occurred_at",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The package is one of the chosen leg's (the one posted, else the one the "Add an
        # event" link names), looked up among the legs the user may see.
        if "package" in self.fields and "tracking_record" in self.fields:
            leg_id = self.data.get("tracking_record") or self.initial.get("tracking_record")
            leg = _leg_or_none(self.fields["tracking_record"].queryset, leg_id)
            field = self.fields["package"]
            field.queryset = leg_packages(leg)
            field.label_from_instance = package_label
            field.empty_label = "(every package of the leg)"
            if leg is None:
                field.help_text = (
                    "Choose the leg first (or use “Add an event to this leg” on its page): the "
                    "list offers that leg's packages."
                )

    def clean(self):
        data = super().clean()
        if data.get("status") is None and not data.get("code"):
            raise ValidationError("Give a status, a code, or both.")
        if data.get("code"):
            try:
                data["code"] = rules.normalise_code(data["code"])
            except ValueError as error:
                self.add_error("code", f"Code {error}.")
        leg, package = data.get("tracking_record"), data.get("package")
        if leg and package and not leg.carries(package):
            self.add_error("package", "Choose a package this leg carries.")
        if data.get("occurred_at"):
            problem = check_event_time(data["occurred_at"], timezone.now())
            if problem is not None:
                self.add_error("occurred_at", services.rule_message(problem))
        return data


def _leg_or_none(legs, leg_id) -> TrackingRecord | None:
    if not leg_id:
        return None
    try:
        return legs.filter(pk=leg_id).first()
    except (ValueError, ValidationError):
        return None


def leg_packages(leg: TrackingRecord | None):
    """The packages a leg carries: those it lists, or else every package of its consignment."""
    if leg is None:
        return Package.objects.none()
    listed = leg.packages.all()
    return listed if listed.exists() else Package.objects.filter(consignment_id=leg.consignment_id)


def package_label(package: Package) -> str:
    described = f" · {package.description}" if package.description else ""
    return f"{package.reference} (#{package.sequence}){described}"


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "brand", "carrier", "expires_at"]
        help_texts = {
            "brand": "For a client key (a shop or warehouse system): its brand.",
            "carrier": "For a carrier key: the carrier whose legs it may post events for.",
        }

    def clean(self):
        data = super().clean()
        if bool(data.get("brand")) == bool(data.get("carrier")):
            raise ValidationError("Choose either a brand (client key) or a carrier (carrier key).")
        if data.get("expires_at") and data["expires_at"] <= timezone.now():
            self.add_error("expires_at", "Choose a time in the future.")
        return data
