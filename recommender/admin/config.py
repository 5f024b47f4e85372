"""The settings singleton: the changelist goes straight to row 1; no adding or deleting rows.

Saving goes through ``RecommenderSettings.save()``, which clears the settings cache, so every
process picks the change up within the cache's lifetime, without a restart.
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from recommender.admin.base import AppManagedRows
from recommender.admin.forms import RecommenderSettingsForm
from recommender.behaviour.purchase_policy import buy_again_measured, excludes_purchased, repurchase_rate
from recommender.behaviour.serving import measured_diversity
from recommender.conf import app_settings
from recommender.diversity import cost_per_lambda, diversity_lambda
from recommender.models import ModelVersion, RecommenderSettings


@admin.register(RecommenderSettings)
class RecommenderSettingsAdmin(AppManagedRows, admin.ModelAdmin):
    form = RecommenderSettingsForm
    readonly_fields = (
        "active_encoder",
        "measured_repurchase_rate",
        "buy_again_order",
        "measured_diversity",
        "updated_at",
    )
    fieldsets = (
        (_("Product vectors"), {"fields": ["image_weight", "active_encoder"]}),
        (
            _("Personalisation"),
            {
                "fields": [
                    "profile_half_life_days",
                    "event_weights",
                    "exclude_purchased",
                    "measured_repurchase_rate",
                    "buy_again_order",
                ]
            },
        ),
        (_("Ranking"), {"fields": ["diversity_lambda", "measured_diversity", "slot_strategies"]}),
        (_("Caching and privacy"), {"fields": ["cache_seconds", "suggestion_min_sessions", "updated_at"]}),
    )

    class Media:
        css: ClassVar[dict[str, tuple[str, ...]]] = {"all": ("recommender/admin/admin.css",)}

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """There is only one row: open it (created with the defaults on first visit)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        # Not RecommenderSettings.get(): its cached copy may outlive a deleted row.
        settings, _created = RecommenderSettings.objects.get_or_create(pk=1)
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:recommender_recommendersettings_change", args=[settings.pk])
        )

    def response_change(self, request: HttpRequest, obj: RecommenderSettings) -> HttpResponse:
        # The changelist would only bounce back here: stay on the form.
        response = super().response_change(request, obj)
        if response.status_code == 302 and "_continue" not in request.POST and "_popup" not in request.POST:
            return HttpResponseRedirect(request.path)
        return response

    @admin.display(description=_("active encoder version"))
    def active_encoder(self, obj: RecommenderSettings) -> str:
        version = ModelVersion.objects.active(ModelVersion.Kind.ENCODER)
        if version is None:
            return _('none yet: the first reindex creates one from RECOMMENDER["ENCODER"]')
        url = reverse(f"{self.admin_site.name}:recommender_modelversion_change", args=[version.pk])
        return format_html('<a href="{}">{}</a> ({} dimensions)', url, version.name, version.dimensions or "?")

    @admin.display(description=_("measured repurchase rate"))
    def measured_repurchase_rate(self, obj: RecommenderSettings) -> str:
        """What "auto" decides from: the active behaviour version's share of repeat purchases and
        whether validation ranked better with the shopper's own purchases blended in."""
        rate = repurchase_rate()
        decision = _("purchased products excluded") if excludes_purchased(obj) else _('"Buy again" offered')
        if rate is None:
            return format_html("{} ({}: {})", _("not measured yet: train a behaviour model"), _("now"), decision)
        helps = _("helped") if buy_again_measured() else _("did not help")
        return format_html(
            "{} {}; {} {} ({} {}; {}: {})",
            f"{rate:.1%}",
            _("of purchases repeat an earlier one"),
            _("offering them again"),
            helps,
            _("minimum rate"),
            f"{float(app_settings.BUY_AGAIN_MIN_REPURCHASE_RATE):.1%}",
            _("now"),
            decision,
        )

    @admin.display(description=_("measured diversity"))
    def measured_diversity(self, obj: RecommenderSettings) -> str:
        """What "auto" diversity serves "for you" with: the λ the active behaviour version's training
        kept, and what relevance each λ cost on the shop's validation shoppers."""
        version = ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR)
        info = ((version.metrics or {}).get("diversity") or {}).get("new") if version is not None else None
        measured = measured_diversity(version) if version is not None else None
        now = diversity_lambda(obj.diversity_lambda, measured)
        if not info or measured is None:
            return _('not measured yet: train a behaviour model ("for you" now λ %(now)g)') % {"now": now}
        relevance = float((info.get("by_lambda") or {}).get("1.0") or 0.0)
        cost = cost_per_lambda(info)
        return _(
            "λ %(measured)g: the most diverse that ranked the shop's validation shoppers as well as relevance "
            'alone (%(metric)s %(relevance).4f; change per λ: %(cost)s). "For you" now λ %(now)g.'
        ) % {"measured": measured, "metric": info.get("metric", ""), "relevance": relevance, "cost": cost, "now": now}

    @admin.display(description=_('"Buy again" order'))
    def buy_again_order(self, obj: RecommenderSettings) -> str:
        """How "Buy again" orders the shopper's purchases: newest first, or the order training learned
        from the shop's repeat purchases (kept only when it ranked them better than newest first on
        shoppers it was not fitted on; :mod:`recommender.training.behaviour.buy_again`)."""
        version = ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR)
        info = ((version.metrics or {}).get("repurchase") or {}).get("buy_again") if version is not None else None
        if not info:
            return _("newest first (not measured yet: train a behaviour model)")
        if not info.get("used"):
            return _("newest first (%(shoppers)d shoppers bought again: no better order learned)") % {
                "shoppers": int(info.get("shoppers") or 0)
            }
        return _(
            "learned from %(shoppers)d shoppers who bought again (recency and price): MAP@12 %(learned).3f on "
            "shoppers it was not fitted on, against %(newest).3f newest first"
        ) % {
            "shoppers": int(info["shoppers"]),
            "learned": float(info["held_out_map@12"]),
            "newest": float(info["recency_map@12"]),
        }
