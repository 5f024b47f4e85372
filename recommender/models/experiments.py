"""Online experiments: A/B tests and self-optimising (bandit) slots, and what shoppers were shown.

An :class:`Experiment` runs on one or more slots; each :class:`Variant` is a strategy with its
parameters (behaviour model, MMR λ, rules, category filter, limit), one of them the control.
:class:`Exposure` rows say which shopper saw which variant where and when: the statistics join
the shopper's later clicks, add-to-carts and purchases (stored events) to their last exposure,
so nothing beyond one insert per rendered slot happens on a request. :class:`UserAssignment`
pins a logged-in shopper to the variant they had as an anonymous visitor.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.cache import cache
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from recommender.models.versions import ModelVersion

# The serving snapshot of live experiments (recommender/experiments/assignment.py), cleared on save.
CONFIG_CACHE_KEY = "recommender:experiments"


class ForgetsServingSnapshot(models.Model):
    """Saving or deleting a row clears the cached snapshot, so edits take effect at once here
    (and within the snapshot's lifetime in other processes)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        cache.delete(CONFIG_CACHE_KEY)

    def delete(self, *args, **kwargs):
        cache.delete(CONFIG_CACHE_KEY)
        return super().delete(*args, **kwargs)


class Experiment(ForgetsServingSnapshot):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        RUNNING = "running", _("running")
        PAUSED = "paused", _("paused")
        STOPPED = "stopped", _("stopped")

    class Mode(models.TextChoices):
        AB = "ab", _("A/B test (fixed weights)")
        BANDIT = "bandit", _("self-optimising (Thompson sampling)")

    class Goal(models.TextChoices):
        CLICK = "click", _("clicks")
        PURCHASE = "purchase", _("purchases")

    name = models.CharField(_("name"), max_length=100, unique=True)
    slots = models.JSONField(_("slots"), default=list, help_text=_("Slot names this experiment runs on."))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.AB)
    goal = models.CharField(
        _("bandit goal"), max_length=16, choices=Goal.choices, default=Goal.CLICK, help_text=_("What a bandit rewards.")
    )
    min_exploration = models.FloatField(
        _("minimum exploration"),
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("Bandit mode: this share of traffic is always split evenly between the variants."),
    )
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    # Bandit posteriors count exposures from here on; moved when the variants change.
    bandit_reset_at = models.DateTimeField(_("bandit reset"), default=timezone.now)
    winner = models.ForeignKey(
        "Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("promoted")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("experiment")
        verbose_name_plural = _("experiments")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def is_live(self, now=None) -> bool:
        """Running and inside its dates: only then does it assign shoppers and record exposures."""
        now = now or timezone.now()
        if self.status != self.Status.RUNNING:
            return False
        return (self.starts_at is None or self.starts_at <= now) and (self.ends_at is None or now < self.ends_at)


class Variant(ForgetsServingSnapshot):
    # What an owner edits, in the admin's inline and the REST API alike.
    EDITABLE_FIELDS = (
        "name",
        "is_control",
        "weight",
        "strategy",
        "behaviour",
        "model_version",
        "diversity_lambda",
        "use_rules",
        "categories",
        "limit",
    )

    class Behaviour(models.TextChoices):
        DEFAULT = "default", _("as configured (the active model)")
        OFF = "off", _("off (profile vectors)")
        PINNED = "pinned", _("pinned to a version")

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(_("name"), max_length=64)
    is_control = models.BooleanField(_("control"), default=False)
    weight = models.FloatField(_("traffic weight"), default=1.0, validators=[MinValueValidator(0.0)])
    strategy = models.CharField(_("strategy"), max_length=64, blank=True, help_text=_("Blank: the slot's own."))
    behaviour = models.CharField(
        _("behaviour model"), max_length=16, choices=Behaviour.choices, default=Behaviour.DEFAULT
    )
    model_version = models.ForeignKey(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("pinned behaviour version"),
    )
    diversity_lambda = models.FloatField(
        _("MMR λ"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("Blank: the admin setting."),
    )
    use_rules = models.BooleanField(_("merchandising rules"), default=True)
    categories = models.JSONField(_("categories"), default=list, blank=True, help_text=_("Only these categories."))
    limit = models.PositiveSmallIntegerField(_("limit"), null=True, blank=True, help_text=_("Blank: the slot's."))
    # Bandit mode: the share of traffic Thompson sampling gives this variant (update_bandits writes it).
    bandit_share = models.FloatField(_("bandit share"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering: ClassVar[list[str]] = ["experiment", "-is_control", "pk"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["experiment", "name"], name="recommender_variant_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.name}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        self.reset_bandit()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        self.reset_bandit()
        return result

    def reset_bandit(self) -> None:
        """The variants changed: a bandit forgets its feedback and starts from the weights again."""
        Experiment.objects.filter(pk=self.experiment_id).update(bandit_reset_at=timezone.now())
        Variant.objects.filter(experiment_id=self.experiment_id).update(bandit_share=None)
        cache.delete(CONFIG_CACHE_KEY)


class Exposure(models.Model):
    """One rendering of an experiment's slot for one shopper: what the attribution joins to."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="exposures")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="exposures")
    slot = models.CharField(_("slot"), max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    session_key = models.CharField(_("session"), max_length=64, blank=True)
    products = models.PositiveSmallIntegerField(_("products shown"), default=0)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("exposure")
        verbose_name_plural = _("exposures")
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["experiment", "created_at"], name="recommender_exp_time_idx"),
            models.Index(fields=["session_key", "created_at"], name="recommender_exp_session_idx"),
            models.Index(fields=["user", "created_at"], name="recommender_exp_user_idx"),
        ]


class UserAssignment(models.Model):
    """A logged-in shopper's variant, fixed at first sight from their anonymous session's hash."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("experiment assignment")
        verbose_name_plural = _("experiment assignments")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["experiment", "user"], name="recommender_one_assignment_per_user"),
        ]
