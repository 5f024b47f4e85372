"""The staff-only experiments endpoint: list, create, edit, run and read results.

    GET/POST            experiments/                 list / create (with nested variants)
    GET/PUT/PATCH/DELETE experiments/<id>/           one experiment (PUT/PATCH replace the variants given)
    POST                experiments/<id>/<action>/   start, pause, stop; promote with {"variant": id}
    GET                 experiments/<id>/results/    per-variant statistics (README "Experiments")

Only staff accounts get in (403 for everyone else), and then the admin's model permissions
apply: reading needs ``recommender.view_experiment``, editing ``add_``/``change_``/``delete_``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import DjangoModelPermissions, IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recommender.experiments import lifecycle
from recommender.experiments.report import experiment_report
from recommender.experiments.statistics import Interval
from recommender.models import Experiment, Variant
from recommender.strategies import STRATEGIES


class ExperimentPermissions(DjangoModelPermissions):
    """The admin's model permissions, reading included (DRF's default lets any GET through)."""

    perms_map: ClassVar[dict[str, list[str]]] = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class VariantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Variant
        fields = ("id", *Variant.EDITABLE_FIELDS, "bandit_share")
        read_only_fields = ("id", "bandit_share")

    def validate_strategy(self, value: str) -> str:
        if value and value not in STRATEGIES:
            raise ValidationError(
                gettext("Unknown strategy %(strategy)r; expected one of %(choices)s.")
                % {"strategy": value, "choices": ", ".join(sorted(STRATEGIES))}
            )
        return value

    def validate_categories(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise ValidationError(gettext("A list of category names."))
        return value


class ExperimentSerializer(serializers.ModelSerializer):
    variants = VariantSerializer(many=True, required=False)

    class Meta:
        model = Experiment
        fields = (
            "id",
            "name",
            "slots",
            "status",
            "mode",
            "goal",
            "min_exploration",
            "starts_at",
            "ends_at",
            "winner",
            "variants",
            "created_at",
        )
        read_only_fields = ("id", "status", "winner", "created_at")

    def validate_slots(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not value or not all(isinstance(s, str) and 0 < len(s) <= 64 for s in value):
            raise ValidationError(gettext("A non-empty list of slot names (at most 64 characters each)."))
        return value

    def validate_variants(self, value: list[dict]) -> list[dict]:
        names = [v["name"] for v in value]
        if len(set(names)) != len(names):
            raise ValidationError(gettext("Variant names must be unique."))
        if value and sum(bool(v.get("is_control")) for v in value) != 1:
            raise ValidationError(gettext("Exactly one variant must be the control."))
        return value

    @transaction.atomic
    def create(self, validated_data: dict) -> Experiment:
        variants = validated_data.pop("variants", [])
        experiment = Experiment.objects.create(**validated_data)
        for data in variants:
            Variant.objects.create(experiment=experiment, **data)
        return experiment

    @transaction.atomic
    def update(self, instance: Experiment, validated_data: dict) -> Experiment:
        variants = validated_data.pop("variants", None)
        instance = super().update(instance, validated_data)
        if variants is not None:  # the list given replaces the variants, matched by name
            keep = []
            for data in variants:
                variant, _ = Variant.objects.update_or_create(experiment=instance, name=data["name"], defaults=data)
                keep.append(variant.pk)
            for gone in instance.variants.exclude(pk__in=keep):
                gone.delete()
        return instance


class StaffOnly:
    """Staff and the model permissions; JSON only, whatever the host's defaults."""

    permission_classes = (IsAdminUser, ExperimentPermissions)
    renderer_classes = (JSONRenderer,)
    queryset = Experiment.objects.prefetch_related("variants")
    schema = None  # staff tooling, left out of the shoppers' OpenAPI schema


class ExperimentListView(StaffOnly, generics.ListCreateAPIView):
    serializer_class = ExperimentSerializer
    pagination_class = None


class ExperimentDetailView(StaffOnly, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ExperimentSerializer


class ExperimentActionView(StaffOnly, APIView):
    """POST start / pause / stop / promote; answers the experiment, or 400 saying why not."""

    def post(self, request: Request, pk: int, action: str) -> Response:
        if not request.user.has_perm("recommender.change_experiment"):
            self.permission_denied(request)
        experiment = get_object_or_404(Experiment, pk=pk)
        try:
            if action == "promote":
                variant = experiment.variants.filter(pk=request.data.get("variant")).first()
                if variant is None:
                    raise ValidationError({"variant": [gettext("A variant id of this experiment.")]})
                lifecycle.promote(experiment, variant)
            elif action in {"start", "pause", "stop"}:
                getattr(lifecycle, action)(experiment)
            else:
                raise ValidationError({"action": [gettext("One of start, pause, stop, promote.")]})
        except lifecycle.ExperimentStateError as exc:
            raise ValidationError({"status": [str(exc)]}) from exc
        return Response(ExperimentSerializer(experiment).data)


class ExperimentResultsView(StaffOnly, APIView):
    def get(self, request: Request, pk: int) -> Response:
        experiment = get_object_or_404(Experiment, pk=pk)
        report = experiment_report(experiment)
        return Response(
            {
                "experiment": experiment.pk,
                "srm_p_value": report.srm_p_value,
                "srm_warning": report.srm_warning,
                "variants": [_variant_row(v) for v in report.variants],
            }
        )


def _interval(interval: Interval) -> dict[str, float]:
    return {"value": interval.value, "low": interval.low, "high": interval.high}


def _variant_row(row: Any) -> dict[str, Any]:
    out = {
        "id": row.variant.pk,
        "name": row.variant.name,
        "is_control": row.variant.is_control,
        "impressions": row.impressions,
        "shoppers": row.shoppers,
        "clicks": row.clicks,
        "add_to_carts": row.carts,
        "purchases": row.purchases,
        "revenue": row.revenue,
        "ctr": _interval(row.ctr),
        "add_to_cart_rate": _interval(row.cart_rate),
        "conversion": _interval(row.conversion),
        "revenue_per_impression": _interval(row.revenue_per_impression),
        "vs_control": None,
    }
    if row.vs_control is not None:
        out["vs_control"] = dict(vars(row.vs_control))
    return out
