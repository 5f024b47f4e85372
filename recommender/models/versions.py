"""Versions of trained or configured models: encoders and behaviour models.

Exactly one version of each kind is *active* and serves queries. A new encoder version is
``building`` while the products are re-embedded; it becomes active when complete, so queries
keep using the previous version's vectors until then (blue/green).
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from recommender.conf import app_settings


class ModelVersionManager(models.Manager["ModelVersion"]):
    """The one place that says which version serves: ``ModelVersion.objects.active(kind)``."""

    def active(self, kind: str = "encoder") -> ModelVersion | None:
        """The active version of ``kind`` ("encoder" or "behaviour"), or None while none serves."""
        return self.filter(kind=kind, state="active").first()

    def active_by_kind(self) -> dict[str, ModelVersion]:
        """Every kind's active version in one query: a "for you" slot needs the encoder and the
        behaviour model, and reading them apart cost a round trip each."""
        return {version.kind: version for version in self.filter(state="active")}

    def maintained(self) -> list[ModelVersion]:
        """Encoder versions whose vectors must follow catalog changes: the active one, any being
        built, and the multilingual search version (``SEARCH_MULTILINGUAL_VERSION``)."""
        serving = Q(state__in=("active", "building"))
        multilingual = app_settings.SEARCH_MULTILINGUAL_VERSION
        if multilingual:
            serving |= Q(name=multilingual)
        return list(self.filter(serving, kind="encoder").order_by("pk"))


class ModelVersion(models.Model):
    class Kind(models.TextChoices):
        ENCODER = "encoder", _("encoder")
        BEHAVIOUR = "behaviour", _("behaviour model")

    class State(models.TextChoices):
        TRAINING = "training", _("training")
        READY = "ready", _("ready")
        BUILDING = "building", _("building vectors")
        ACTIVE = "active", _("active")
        RETIRED = "retired", _("retired")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.ENCODER)
    name = models.CharField(_("name"), max_length=200, help_text=_("Human label, e.g. 'catalog-clip 2026-11-27'."))
    # The encoder spec ({"MODEL": ..., "PRETRAINED": ...}) or the behaviour model's hyperparameters.
    config = models.JSONField(_("configuration"), default=dict, blank=True)
    artifact = models.CharField(
        _("artifact"),
        max_length=500,
        blank=True,
        help_text=_("Checkpoint folder, relative to MODEL_DIR when possible."),
    )
    dimensions = models.PositiveIntegerField(_("dimensions"), null=True, blank=True)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.READY)
    progress = models.FloatField(_("progress"), default=0.0, help_text=_("0..1 while training or building."))
    message = models.TextField(_("message"), blank=True, help_text=_("Last status or error message."))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)

    objects = ModelVersionManager()

    class Meta:
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        ordering: ClassVar[list[str]] = ["-created_at"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["kind"], condition=Q(state="active"), name="recommender_one_active_version_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} {self.name} ({self.state})"
