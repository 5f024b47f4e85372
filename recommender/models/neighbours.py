"""Co-occurrence neighbours kept by the worker: "bought together" and "also viewed" without event scans.

Counting which products share baskets or viewers from raw events costs a join over every event of
every shopper who touched the product: 9 ms a page on 20,000 events, and it grows with the event
table. ``recommender.neighbours.refresh_neighbours()`` (beat task ``recommender.refresh_neighbours``)
counts all pairs at once and keeps each product's best neighbours here, so a page reads one
indexed range. :class:`NeighbourBuild` records when each kind was last counted: serving reads the
table only for a kind that has been built, and counts live from events before that.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _


class NeighbourKind(models.TextChoices):
    BOUGHT_TOGETHER = "bought_together", _("frequently bought together")
    ALSO_VIEWED = "also_viewed", _("customers also viewed")


class ProductNeighbour(models.Model):
    kind = models.CharField(_("kind"), max_length=24, choices=NeighbourKind.choices)
    product_key = models.CharField(_("product key"), max_length=64)
    neighbour_key = models.CharField(_("neighbour key"), max_length=64)
    support = models.PositiveIntegerField(
        _("support"), help_text=_("Distinct baskets (bought together) or shoppers (also viewed) holding both.")
    )

    class Meta:
        verbose_name = _("product neighbour")
        verbose_name_plural = _("product neighbours")
        indexes: ClassVar[list[models.Index]] = [
            # Serving reads one product's best neighbours in this order.
            models.Index(
                fields=["kind", "product_key", "-support", "neighbour_key"], name="recommender_pn_serving_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.product_key} → {self.neighbour_key} ({self.support})"


class NeighbourBuild(models.Model):
    kind = models.CharField(_("kind"), max_length=24, choices=NeighbourKind.choices, unique=True)
    built_at = models.DateTimeField(_("built at"))
    seconds = models.FloatField(_("seconds"), default=0.0, help_text=_("How long the count took."))
    pairs = models.PositiveBigIntegerField(_("pairs kept"), default=0)
    products = models.PositiveIntegerField(_("products with neighbours"), default=0)
    min_support = models.PositiveIntegerField(_("minimum support"), default=2)
    kept = models.PositiveIntegerField(_("neighbours kept per product"), default=200)

    class Meta:
        verbose_name = _("neighbour table build")
        verbose_name_plural = _("neighbour table builds")
        ordering: ClassVar[list[str]] = ["kind"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.built_at:%Y-%m-%d %H:%M})"
