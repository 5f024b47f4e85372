"""Experiments in the admin: list, edit (variants inline), results with charts, and the controls.

The results page (``<id>/results/``) needs ``recommender.view_experiment``; start, pause, stop
and "promote the winner" are POST forms on it that need ``recommender.change_experiment``, as
do the list's bulk actions. A sample-ratio mismatch shows as a warning on the page.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from recommender.admin import charts
from recommender.admin.base import require_perm, view_context
from recommender.admin.experiment_charts import RENDERERS
from recommender.experiments import lifecycle
from recommender.experiments.report import ExperimentReport, experiment_report
from recommender.experiments.statistics import sample_size
from recommender.models import Experiment, Variant
from recommender.strategies import STRATEGIES

# The page and its two charts read the same numbers: computed once a minute at most.
REPORT_SECONDS = 60


def cached_report(experiment: Experiment) -> ExperimentReport:
    """The experiment's report, shared by its page and charts for ``REPORT_SECONDS``."""
    key = f"recommender:experiment-report:{experiment.pk}:{experiment.updated_at.timestamp()}"
    report = cache.get(key)
    if report is None:
        report = experiment_report(experiment)
        cache.set(key, report, REPORT_SECONDS)
    return report


class VariantForm(forms.ModelForm):
    strategy = forms.ChoiceField(
        choices=[("", _("the slot's own"))] + [(s, s) for s in sorted(STRATEGIES)], required=False, label=_("strategy")
    )

    class Meta:
        model = Variant
        fields = Variant.EDITABLE_FIELDS


class VariantInline(admin.TabularInline):
    model = Variant
    form = VariantForm
    extra = 0
    min_num = 2
    readonly_fields = ("bandit_share",)


class PlannerForm(forms.Form):
    baseline = forms.FloatField(min_value=0.0001, max_value=0.9999, initial=0.05, label=_("baseline rate"))
    lift = forms.FloatField(min_value=-0.99, max_value=10, initial=0.1, label=_("minimum detectable lift (relative)"))


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "mode", "slot_list", "variant_count", "starts_at", "ends_at", "results_link")
    list_filter = ("status", "mode")
    search_fields = ("name",)
    readonly_fields = ("status", "winner", "bandit_reset_at", "created_at")
    inlines = (VariantInline,)
    actions = ("start_selected", "pause_selected", "stop_selected")

    class Media:
        css: ClassVar[dict[str, tuple[str, ...]]] = {"all": ("recommender/admin/admin.css",)}

    @admin.display(description=_("slots"))
    def slot_list(self, experiment: Experiment) -> str:
        return ", ".join(map(str, experiment.slots or []))

    @admin.display(description=_("variants"))
    def variant_count(self, experiment: Experiment) -> int:
        return experiment.variants.count()

    @admin.display(description=_("results"))
    def results_link(self, experiment: Experiment) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:recommender_experiment_results", args=[experiment.pk]), _("results")
        )

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/results/", wrap(self.results_view), name="recommender_experiment_results"),
            path("<int:pk>/results/<str:chart>.png", wrap(self.chart_view), name="recommender_experiment_chart"),
            path("<int:pk>/control/", wrap(require_POST(self.control_view)), name="recommender_experiment_control"),
        ] + super().get_urls()

    def results_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require_perm(request, "view", Experiment)
        experiment = get_object_or_404(Experiment, pk=pk)
        report = cached_report(experiment)
        planner = PlannerForm(request.GET or None)
        needed = None
        if planner.is_bound and planner.is_valid():
            try:
                needed = sample_size(planner.cleaned_data["baseline"], planner.cleaned_data["lift"])
            except ValueError as exc:
                planner.add_error(None, str(exc))
        if report.srm_warning:
            messages.warning(
                request,
                _(
                    "Sample ratio mismatch (p = %(p).2g): the variants received shoppers in other proportions than "
                    "their weights. Check the assignment and the logging before trusting any difference."
                )
                % {"p": report.srm_p_value},
            )
        context = view_context(
            self,
            request,
            _("Results of experiment “%(name)s”") % {"name": experiment.name},
            experiment=experiment,
            report=report,
            planner=planner,
            needed=needed,
            charts=list(RENDERERS) if charts.available() else [],
            may_change=self.has_change_permission(request, experiment),
        )
        return TemplateResponse(request, "admin/recommender/experiment/results.html", context)

    def chart_view(self, request: HttpRequest, pk: int, chart: str) -> HttpResponse:
        require_perm(request, "view", Experiment)
        render = RENDERERS.get(chart)
        if render is None or not charts.available():
            raise Http404("No such chart.")
        response = HttpResponse(render(cached_report(get_object_or_404(Experiment, pk=pk))), content_type="image/png")
        response["Cache-Control"] = "private, max-age=60"
        return response

    def control_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require_perm(request, "change", Experiment)
        experiment = get_object_or_404(Experiment, pk=pk)
        action = request.POST.get("action", "")
        try:
            if action == "promote":
                variant = experiment.variants.filter(pk=request.POST.get("variant") or 0).first()
                if variant is None:
                    raise lifecycle.ExperimentStateError(str(_("Choose a variant of this experiment to promote.")))
                lifecycle.promote(experiment, variant)
                messages.success(
                    request,
                    _("“%(name)s” is now the slots' default; the experiment is stopped.") % {"name": variant.name},
                )
            elif action in ("start", "pause", "stop"):
                getattr(lifecycle, action)(experiment)
                messages.success(
                    request, _("Experiment is now %(status)s.") % {"status": experiment.get_status_display()}
                )
            else:
                raise lifecycle.ExperimentStateError(str(_("Unknown action.")))
        except lifecycle.ExperimentStateError as exc:
            messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("admin:recommender_experiment_results", args=[pk]))

    def _bulk(self, request: HttpRequest, queryset: Any, action: str) -> None:
        done = 0
        for experiment in queryset:
            try:
                getattr(lifecycle, action)(experiment)
                done += 1
            except lifecycle.ExperimentStateError as exc:
                messages.error(request, f"{experiment.name}: {exc}")
        if done:
            messages.success(request, _("%(count)d experiment(s) updated.") % {"count": done})

    @admin.action(description=_("Start the selected experiments"), permissions=["change"])
    def start_selected(self, request: HttpRequest, queryset: Any) -> None:
        self._bulk(request, queryset, "start")

    @admin.action(description=_("Pause the selected experiments"), permissions=["change"])
    def pause_selected(self, request: HttpRequest, queryset: Any) -> None:
        self._bulk(request, queryset, "pause")

    @admin.action(description=_("Stop the selected experiments"), permissions=["change"])
    def stop_selected(self, request: HttpRequest, queryset: Any) -> None:
        self._bulk(request, queryset, "stop")
