"""Shop-owner settings edited in the admin: a singleton row, read through a short cache.

Code reads ``RecommenderSettings.get()``; saving in the admin clears the cache, so changes
take effect without a restart.
"""

from __future__ import annotations

from django.core.cache import cache
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

CACHE_KEY = "recommender:settings"
# Long enough to spare a query per render, short enough that other processes catch up.
CACHE_SECONDS = 30


def default_event_weights() -> dict[str, float]:
    """How much each event type counts towards a profile (purchase intent > browsing)."""
    return {"view": 1.0, "click": 2.0, "add_to_cart": 4.0, "purchase": 6.0, "search": 1.5}


def default_slot_strategies() -> dict[str, str]:
    return {
        "home": "for_you",
        "product": "similar",
        "cart": "bought_together",
    }


class RecommenderSettings(models.Model):
    image_weight = models.FloatField(
        _("image weight"),
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("Share of the image vector in the fused product vector (the rest is text)."),
    )
    profile_half_life_days = models.FloatField(
        _("profile half-life (days)"),
        default=14.0,
        validators=[MinValueValidator(0.01)],
        help_text=_("An event this old counts half as much in a profile."),
    )
    event_weights = models.JSONField(_("event weights"), default=default_event_weights)
    # None ("auto"): "for you" from a behaviour model uses the λ its training measured on the shop's
    # validation shoppers (recommender.training.behaviour.diversity_cost), other lists AUTO_LAMBDA.
    diversity_lambda = models.FloatField(
        _("diversity λ"),
        null=True,
        blank=True,
        default=None,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_(
            'MMR trade-off: 1 = relevance only, 0 = diversity only. Blank (auto): "for you" diversifies as far '
            "as it cost nothing on the shop's validation shoppers when the behaviour model was trained; "
            "other lists use 0.8."
        ),
    )
    # Tri-state: None ("auto") follows the repurchase rate measured when the behaviour model was
    # trained (recommender.behaviour.purchase_policy); True and False are the owner's explicit choice.
    exclude_purchased = models.BooleanField(
        _("exclude purchased products"),
        null=True,
        blank=True,
        default=None,
        choices=[
            (None, _("Auto: offer to buy again when re-buying is common")),
            (True, _("Always exclude purchased products")),
            (False, _("Never exclude purchased products")),
        ],
        help_text=_(
            'Auto keeps purchased products in recommendations ("Buy again") when the share of purchases '
            "that repeat an earlier one, measured when the behaviour model was trained, reaches "
            'RECOMMENDER["BUY_AGAIN_MIN_REPURCHASE_RATE"]; otherwise it excludes them.'
        ),
    )
    cache_seconds = models.PositiveIntegerField(_("cache lifetime (s)"), default=300)
    suggestion_min_sessions = models.PositiveIntegerField(
        _("suggestion privacy threshold"),
        default=3,
        help_text=_(
            "A logged query is suggested only after this many distinct shoppers (accounts or network "
            "addresses) searched it."
        ),
    )
    slot_strategies = models.JSONField(_("default strategy per slot"), default=default_slot_strategies)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("recommender settings")
        verbose_name_plural = _("recommender settings")

    def __str__(self) -> str:
        return str(_("Recommender settings"))

    def save(self, *args, **kwargs) -> None:
        self.pk = 1  # a singleton: there is only ever row 1
        super().save(*args, **kwargs)
        cache.delete(CACHE_KEY)

    def delete(self, *args, **kwargs):
        cache.delete(CACHE_KEY)
        return super().delete(*args, **kwargs)

    @classmethod
    def get(cls) -> RecommenderSettings:
        """The current settings (created with defaults on first use)."""
        obj = cache.get(CACHE_KEY)
        if obj is None:
            obj, _created = cls.objects.get_or_create(pk=1)
            cache.set(CACHE_KEY, obj, CACHE_SECONDS)
        return obj
