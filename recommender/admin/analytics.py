"""Slot statistics (read-only) and the analytics page: CTR and conversions per slot and strategy,
top and zero-result searches, over the last 7/30/90 days. Both need ``recommender.view_slotstat``."""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from recommender.admin import charts, reports
from recommender.admin.base import ReadOnlyAdmin, require_perm, view_context
from recommender.admin.forms import AnalyticsPeriodForm
from recommender.models import SlotStat


def percent(value: float) -> str:
    """0.0423 -> "4.2%" (the page shows rates as percentages)."""
    return f"{value:.1%}"


@admin.register(SlotStat)
class SlotStatAdmin(ReadOnlyAdmin):
    list_display = ("day", "slot", "strategy", "impressions", "clicks", "ctr_display", "conversions")
    list_filter = ("slot", "strategy")
    date_hierarchy = "day"

    class Media:
        css: ClassVar[dict[str, tuple[str, ...]]] = {"all": ("recommender/admin/admin.css",)}

    @admin.display(description=_("CTR"))
    def ctr_display(self, stat: SlotStat) -> str:
        return f"{stat.ctr:.1%}"

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("analytics/", wrap(self.analytics_view), name="recommender_analytics"),
            path("analytics/<str:chart>.png", wrap(self.chart_view), name="recommender_analytics_chart"),
        ] + super().get_urls()

    def analytics_view(self, request: HttpRequest) -> HttpResponse:
        require_perm(request, "view", SlotStat)
        form = AnalyticsPeriodForm(request.GET or None)
        days = form.selected_days()
        period = reports.last_days(days)
        totals, search = reports.slot_totals(period), reports.search_totals(period)
        context = view_context(
            self,
            request,
            _("Recommendation and search analytics"),
            days=days,
            period=period,
            period_choices=[(value, label) for value, label in AnalyticsPeriodForm.base_fields["days"].choices],
            totals=totals,
            totals_ctr=percent(totals.ctr),
            slots=[(row, percent(row.ctr), percent(row.conversion_rate)) for row in reports.slot_performance(period)],
            search=search,
            search_click_rate=percent(search.click_rate),
            search_purchase_rate=percent(search.purchase_rate),
            top_queries=[(q, percent(q.click_rate)) for q in reports.top_queries(period)],
            zero_result_queries=[(q, percent(q.click_rate)) for q in reports.zero_result_queries(period)],
            charts_available=charts.available(),
        )
        return TemplateResponse(request, "admin/recommender/analytics.html", context)

    def chart_view(self, request: HttpRequest, chart: str) -> HttpResponse:
        require_perm(request, "view", SlotStat)
        render = charts.CHARTS.get(chart)
        if render is None or not charts.available():
            raise Http404("No such chart.")
        period = reports.last_days(AnalyticsPeriodForm(request.GET or None).selected_days())
        response = HttpResponse(render(period), content_type="image/png")
        response["Cache-Control"] = "private, max-age=300"
        return response
