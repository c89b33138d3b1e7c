"""The support desk's pages in the back office (design section 7.5): the watchlist (what needs
attention, by category, each a link into the consignment list's `?watch=` filter), the
carriers' scorecard (HTML with an SVG chart, or CSV), and the per-carrier thresholds (for
superusers). Everything is read through tracking.access.staff_scope; the categories and the
figures are tracking.desk's. The desk's entry on the index also lists the email previews
(tracking.admin.emails)."""

from __future__ import annotations

import csv
import datetime as dt

from django import forms
from django.contrib import admin
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode

from tracking import desk, services
from tracking.access import staff_scope
from tracking.admin.codes import SuperusersOnly
from tracking.models import CarrierThresholds, Consignment, TrackingEvent

EVENT_BRAND = "tracking_record__consignment__brand"
SCORECARD_DAYS = 30  # the default range, ending today
SCORECARD_MAX_DAYS = 366  # the delivered rows of a range are read into Python: keep it bounded


def scoped_consignments(request):
    return staff_scope(request.user).limit(Consignment.objects.all(), "brand")


# -- The consignment list's ?watch= filter ------------------------------------------------------


class WatchFilter(admin.SimpleListFilter):
    """`?watch=<category>`: the consignments the watchlist counts in that category (the same
    tracking.desk.Watch definition, so the list and the count agree)."""

    title = "needs attention"
    parameter_name = "watch"

    def lookups(self, request, model_admin):
        return [(category.slug, category.label) for category in desk.CATEGORIES]

    def queryset(self, request, queryset):
        if self.value() not in desk.CATEGORY_SLUGS:
            return queryset
        watch = desk.Watch(scoped_consignments(request))
        return watch.filter(queryset, self.value())


# -- Per-carrier thresholds ---------------------------------------------------------------------


@admin.register(CarrierThresholds)
class CarrierThresholdsAdmin(SuperusersOnly, admin.ModelAdmin):
    """Every brand's watchlist reads these: superusers only."""

    list_display = ["carrier", "forgotten_hours", "stalled_hours"]
    list_select_related = ["carrier"]
    search_fields = ["carrier__name", "carrier__code"]
    autocomplete_fields = ["carrier"]
    ordering = ["carrier__name"]


# -- The pages ----------------------------------------------------------------------------------


def urls(site) -> list:
    return [
        path("watchlist/", site.admin_view(lambda r: watchlist_view(site, r)), name="watchlist"),
        path("scorecard/", site.admin_view(lambda r: scorecard_view(site, r)), name="scorecard"),
    ]


def app_entry() -> dict:
    """The desk pages as an app of the admin's index and navigation sidebar."""
    pages = [
        ("Watchlist", "watchlist", "Consignments needing attention"),
        ("Carrier scorecard", "scorecard", "On time, transit times and exceptions"),
        ("Email previews", "email_previews", "Every customer email, in every language"),
    ]
    return {
        "name": "Support desk",
        "app_label": "desk",
        "app_url": reverse("admin:watchlist"),
        "has_module_perms": True,
        "models": [
            {
                "name": name,
                "object_name": slug,
                "admin_url": reverse(f"admin:{slug}"),
                "add_url": None,
                "view_only": True,
                "perms": {"view": True},
            }
            for name, slug, _about in pages
        ],
    }


def watchlist_view(site, request):
    scope = staff_scope(request.user)
    consignments = scope.limit(Consignment.objects.all(), "brand")
    watch = desk.Watch(consignments)
    counts = watch.counts(consignments)
    changelist = reverse("admin:tracking_consignment_changelist")
    rows = [
        {
            "category": category,
            "description": category.description.format(**watch.hours),
            "count": counts[category.slug],
            "url": f"{changelist}?{urlencode({'watch': category.slug})}",
        }
        for category in desk.CATEGORIES
    ]
    own_thresholds = len(watch.thresholds.own)
    unmapped = []
    if not scope.every_brand:
        # A brand's staff see the codes on their own legs; superusers have the full page.
        events = scope.limit(TrackingEvent.objects.all(), EVENT_BRAND)
        unmapped = services.unmapped_codes(events=events)
    context = {
        **site.each_context(request),
        "title": "Watchlist",
        "rows": rows,
        "total": sum(counts.values()),
        "hours": watch.hours,
        "own_thresholds": own_thresholds,
        "every_brand": scope.every_brand,
        "has_scope": scope.every_brand or scope.brand_id is not None,
        "unmapped": unmapped,
        "unmapped_limit": services.UNMAPPED_LIMIT,
        "fallback_country": desk.FALLBACK_COUNTRY,
    }
    return TemplateResponse(request, "admin/tracking/watchlist.html", context)


class ScorecardRange(forms.Form):
    """?from=YYYY-MM-DD&to=YYYY-MM-DD (UTC days, both included)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in (("from", "From"), ("to", "To")):
            self.fields[name] = forms.DateField(
                label=label,
                input_formats=["%Y-%m-%d"],
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                error_messages={"invalid": f"Enter the '{label}' date as YYYY-MM-DD."},
            )

    def clean(self):
        data = super().clean()
        start, end = data.get("from"), data.get("to")
        if start and end:
            if start > end:
                raise forms.ValidationError("'From' must be on or before 'To'.")
            if (end - start).days >= SCORECARD_MAX_DAYS:
                raise forms.ValidationError(
                    f"Choose at most {SCORECARD_MAX_DAYS} days (this range has "
                    f"{(end - start).days + 1})."
                )
        return data


def _range_form(request) -> ScorecardRange:
    today = timezone.now().date()
    data = {
        "from": request.GET.get("from", f"{today - dt.timedelta(days=SCORECARD_DAYS - 1)}"),
        "to": request.GET.get("to", f"{today}"),
    }
    return ScorecardRange(data, auto_id="scorecard-%s")


def _one_decimal(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


CSV_COLUMNS = [
    "carrier",
    "consignments",
    "delivered",
    "on_time_pct",
    "transit_p50_hours",
    "transit_p90_hours",
    "exception_rate_pct",
]


def _csv_row(score: desk.CarrierScore) -> list:
    return [
        score.name,
        score.consignments,
        score.delivered,
        _one_decimal(score.on_time_pct),
        _one_decimal(score.p50_hours),
        _one_decimal(score.p90_hours),
        _one_decimal(score.exception_pct),
    ]


def _chart(table: list[desk.CarrierScore]) -> dict:
    """Geometry of the on-time chart: one horizontal bar per carrier (0-100 %)."""
    label_width, bar_width, row_height, top = 140, 240, 32, 30
    bars = []
    for index, score in enumerate(table):
        pct = score.on_time_pct
        name = score.name if len(score.name) <= 16 else score.name[:15] + "…"
        bars.append(
            {
                "name": name,
                "full_name": score.name,
                "y": top + index * row_height,
                "text_y": top + index * row_height + 16,
                "width": round(bar_width * (pct or 0) / 100, 1),
                "value": "no data" if pct is None else f"{pct:.0f}%",
                "value_x": label_width + round(bar_width * (pct or 0) / 100, 1) + 6,
                "pct": pct,
                "with_expected": score.with_expected,
            }
        )
    return {
        "width": label_width + bar_width + 56,
        "height": top + len(table) * row_height + 8,
        "label_width": label_width,
        "bar_width": bar_width,
        "axis_x": [label_width + bar_width * t // 100 for t in (0, 50, 100)],
        "bars": bars,
    }


def scorecard_view(site, request):
    form = _range_form(request)
    valid = form.is_valid()
    table, total = [], None
    if valid:
        start, end = form.cleaned_data["from"], form.cleaned_data["to"]
        table, total = desk.scorecard(scoped_consignments(request), start, end)
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            filename = f"scorecard-{start:%Y-%m-%d}-{end:%Y-%m-%d}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            writer = csv.writer(response)
            writer.writerow(CSV_COLUMNS)
            for score in [*table, total]:
                writer.writerow(_csv_row(score))
            return response
    query = {"from": form.data["from"], "to": form.data["to"], "format": "csv"}
    context = {
        **site.each_context(request),
        "title": "Carrier scorecard",
        "form": form,
        "table": table,
        "total": total,
        "chart": _chart(table) if table else None,
        "csv_url": f"{reverse('admin:scorecard')}?{urlencode(query)}",
    }
    return TemplateResponse(
        request, "admin/tracking/scorecard.html", context, status=200 if valid else 400
    )
