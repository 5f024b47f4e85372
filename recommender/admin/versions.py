"""Model versions: metrics, training curves, activation (blue/green), roll-back and training.

Activating an encoder version whose vectors cover the catalog switches at once (and queues a
non-forced reindex so products changed meanwhile catch up); otherwise the version is built
beside the active one and switches when complete. Roll-back re-activates the most recently
retired version the same way. Training sends ``recommender.train_encoder``. Activating a
behaviour version sends ``recommender.activate_behaviour``: writing its product output vectors
takes minutes on a large catalogue, so the version switches when the worker has written them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from recommender import tasks
from recommender.admin.base import AppManagedRows, badge, bar, require_perm, send_task, view_context
from recommender.admin.forms import TrainEncoderForm
from recommender.admin.status import catalog_size
from recommender.behaviour.loading import load_version
from recommender.indexing import switch_or_build
from recommender.models import ModelVersion
from recommender.versions import model_dir

RECALL_KEY = re.compile(r"^(i2t|t2i)_r(\d+)$")
DIRECTIONS = {"i2t": _("image → text"), "t2i": _("text → image")}


class ActivationError(Exception):
    """The version cannot serve (still training, or failed)."""


@dataclass
class Activation:
    """What activating a version did, and whether its vectors need a reindex task (encoders) or a
    worker to write them and switch (behaviour models)."""

    version: ModelVersion
    active: bool
    reindex: bool
    message: str
    background: bool = False


def plan_activation(version: ModelVersion) -> Activation:
    """Make ``version`` serve: now when its vectors are complete, else after building them."""
    state = version.state
    if state == ModelVersion.State.ACTIVE:
        return Activation(version, True, False, gettext("%(name)s is already active.") % {"name": version.name})
    if state in (ModelVersion.State.TRAINING, ModelVersion.State.FAILED):
        raise ActivationError(
            gettext("%(name)s is %(state)s and cannot be activated.")
            % {"name": version.name, "state": version.get_state_display()}
        )
    if version.kind != ModelVersion.Kind.ENCODER:
        try:  # its product output vectors come from its saved model: that must be readable now
            load_version(version)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise ActivationError(
                gettext("%(name)s cannot be activated: its model could not be used (%(error)s).")
                % {"name": version.name, "error": exc}
            ) from exc
        return Activation(
            version,
            False,
            False,
            gettext("Activating %(name)s: its product vectors are being written; it serves once they are.")
            % {"name": version.name},
            background=True,
        )
    was_serving = ModelVersion.objects.active(ModelVersion.Kind.ENCODER) is not None
    if switch_or_build(version):
        message = (
            gettext("Activated %(name)s; products changed since its vectors were made are being re-embedded.")
            if was_serving
            else gettext("Activated %(name)s; embedding the catalog.")  # nothing served before: no reason to wait
        )
        return Activation(version, True, True, message % {"name": version.name})
    return Activation(
        version,
        False,
        True,
        gettext("Building %(name)s: the catalog is being embedded; it switches when complete.")
        % {"name": version.name},
    )


def rollback_target(kind: str = ModelVersion.Kind.ENCODER) -> ModelVersion | None:
    """The most recently retired version of ``kind``: what was serving before the current one."""
    return (
        ModelVersion.objects.filter(kind=kind, state=ModelVersion.State.RETIRED)
        .order_by(F("activated_at").desc(nulls_last=True), "-created_at", "-pk")
        .first()
    )


def plot_path(version: ModelVersion) -> Path | None:
    """The version's training-curve PNG, only when it lies inside MODEL_DIR (no path tricks)."""
    name = (version.metrics or {}).get("plot") if isinstance(version.metrics, dict) else None
    if not name or not isinstance(name, str):
        return None
    root = model_dir().resolve()
    candidate = (root / name).resolve()
    if not candidate.is_relative_to(root) or candidate.suffix.lower() != ".png" or not candidate.is_file():
        return None
    return candidate


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def final_recall(version: ModelVersion, key: str) -> float | None:
    final = (version.metrics or {}).get("final") if isinstance(version.metrics, dict) else None
    value = final.get(key) if isinstance(final, dict) else None
    return value if isinstance(value, (int, float)) else None


@admin.register(ModelVersion)
class ModelVersionAdmin(
    AppManagedRows, admin.ModelAdmin
):  # versions come from training or reindexing; retire, never delete
    list_display = (
        "name",
        "kind",
        "state_display",
        "dimensions",
        "t2i_r10",
        "i2t_r10",
        "progress_display",
        "created_at",
        "activated_at",
    )
    list_filter = ("kind", "state")
    search_fields = ("name",)
    actions = ("activate_selected", "roll_back")
    fields = (
        "name",
        "kind",
        "state_display",
        "dimensions",
        "progress_display",
        "message",
        "metrics_display",
        "training_plot",
        "config_display",
        "artifact",
        "created_at",
        "activated_at",
    )
    readonly_fields = tuple(f for f in fields if f != "name")

    class Media:
        css: ClassVar[dict[str, tuple[str, ...]]] = {"all": ("recommender/admin/admin.css",)}

    # --- columns ----------------------------------------------------------------------------
    @admin.display(description=_("state"), ordering="state")
    def state_display(self, version: ModelVersion) -> str:
        return badge(version.state, version.get_state_display())

    @admin.display(description=_("t2i R@10"))
    def t2i_r10(self, version: ModelVersion) -> str:
        value = final_recall(version, "t2i_r10")
        return "—" if value is None else f"{value:.3f}"

    @admin.display(description=_("i2t R@10"))
    def i2t_r10(self, version: ModelVersion) -> str:
        value = final_recall(version, "i2t_r10")
        return "—" if value is None else f"{value:.3f}"

    @admin.display(description=_("progress"))
    def progress_display(self, version: ModelVersion) -> str:
        if version.state in (ModelVersion.State.TRAINING, ModelVersion.State.BUILDING):
            return bar(version.progress)
        return "—"

    @admin.display(description=_("configuration"))
    def config_display(self, version: ModelVersion) -> str:
        return format_html(
            '<pre class="recommender-mono">{}</pre>', json.dumps(version.config, indent=2, sort_keys=True)
        )

    @admin.display(description=_("metrics"))
    def metrics_display(self, version: ModelVersion) -> SafeString:
        metrics = version.metrics if isinstance(version.metrics, dict) else {}
        recall: dict[str, dict[int, float]] = {}
        final = metrics.get("final")
        for key, value in final.items() if isinstance(final, dict) else []:
            match = RECALL_KEY.match(key)
            if match:
                recall.setdefault(match[1], {})[int(match[2])] = value
        ks = sorted({k for row in recall.values() for k in row})
        history = [row for row in metrics.get("history") or [] if isinstance(row, dict)]
        history_columns = list(dict.fromkeys(key for row in history for key in row))
        scalars = [
            (key, _number(value))
            for key, value in metrics.items()
            if key not in ("final", "history", "plot") and not isinstance(value, (dict, list))
        ]
        context = {
            "ks": ks,
            "recall_rows": [
                (DIRECTIONS.get(d, d), [_number(recall[d].get(k, "")) for k in ks]) for d in sorted(recall)
            ],
            "scalars": scalars,
            "history_columns": history_columns,
            "history": [[_number(row.get(c, "")) for c in history_columns] for row in history],
        }
        return render_to_string("admin/recommender/modelversion/metrics.html", context)

    @admin.display(description=_("training curves"))
    def training_plot(self, version: ModelVersion) -> str:
        if version.pk is None or plot_path(version) is None:
            return "—"
        url = reverse(f"{self.admin_site.name}:recommender_modelversion_plot", args=[version.pk])
        return format_html('<img class="recommender-chart" src="{}" alt="{}" width="720">', url, _("training curves"))

    # --- actions ------------------------------------------------------------------------------
    def _apply(self, request: HttpRequest, version: ModelVersion) -> None:
        try:
            outcome = plan_activation(version)
        except ActivationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        if outcome.reindex:
            send_task(request, tasks.reindex, version.pk, False)
        if outcome.background and not send_task(request, tasks.activate_behaviour_task, version.pk):
            return
        self.message_user(request, outcome.message, messages.SUCCESS if outcome.active else messages.INFO)

    @admin.action(description=_("Activate selected version"), permissions=["change"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        versions = list(queryset)
        if len({v.kind for v in versions}) != len(versions):
            self.message_user(request, _("Select one version per kind: only one can be active."), messages.ERROR)
            return
        for version in versions:
            self._apply(request, version)

    @admin.action(
        description=_("Roll back to the previously active version (of the selected kinds)"), permissions=["change"]
    )
    def roll_back(self, request: HttpRequest, queryset: QuerySet) -> None:
        for kind in sorted(set(queryset.values_list("kind", flat=True))):
            self._roll_back(request, kind)

    def _roll_back(self, request: HttpRequest, kind: str) -> None:
        target = rollback_target(kind)
        if target is None:
            self.message_user(
                request, _("There is no retired %(kind)s version to roll back to.") % {"kind": kind}, messages.WARNING
            )
            return
        self._apply(request, target)

    # --- custom views ----------------------------------------------------------------------------
    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("train/", wrap(self.train_view), name="recommender_modelversion_train"),
            path("rollback/", wrap(self.rollback_view), name="recommender_modelversion_rollback"),
            path("<int:pk>/plot.png", wrap(self.plot_view), name="recommender_modelversion_plot"),
        ] + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra = {
            "can_train": request.user.has_perm("recommender.add_modelversion"),
            "can_change": request.user.has_perm("recommender.change_modelversion"),
            "rollback_target": rollback_target(),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    def plot_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The training-curve PNG of a version, served only from inside MODEL_DIR."""
        require_perm(request, "view", ModelVersion)
        path_ = plot_path(get_object_or_404(ModelVersion, pk=pk))
        if path_ is None:
            raise Http404("No training plot for this version.")
        response = FileResponse(path_.open("rb"), content_type="image/png")
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def rollback_view(self, request: HttpRequest) -> HttpResponse:
        """POST: re-activate the most recently retired encoder version."""
        require_perm(request, "change", ModelVersion)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._roll_back(request, request.POST.get("kind") or ModelVersion.Kind.ENCODER)
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:recommender_modelversion_changelist"))

    def train_view(self, request: HttpRequest) -> HttpResponse:
        """The "train a new encoder" form: sends ``recommender.train_encoder(options, activate)``."""
        require_perm(request, "add", ModelVersion)
        form = TrainEncoderForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            if send_task(request, tasks.train_encoder, form.task_options(), form.cleaned_data["activate"]):
                self.message_user(
                    request,
                    _("Training queued. The new version appears in this list when training ends."),
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:recommender_modelversion_changelist"))
        context = view_context(
            self,
            request,
            _("Train a new encoder"),
            form=form,
            eager=bool(tasks.train_encoder.app.conf.task_always_eager),
            catalog=catalog_size(),
        )
        return TemplateResponse(request, "admin/recommender/modelversion/train.html", context)
