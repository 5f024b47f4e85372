"""Materialised suggestion phrases: what the search box may suggest, and the spelling vocabulary.

Rebuilt by ``recommender.search.refresh_suggestions()`` (beat task
``recommender.refresh_suggestions``) from the query log and the catalog, so that a keystroke
costs one indexed query on a small table instead of aggregating the log. Logged queries keep
their count of distinct shoppers and are only ever served above the admin's privacy threshold
and when moderation allows them (``SuggestionRule``).
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SuggestionPhrase(models.Model):
    class Kind(models.TextChoices):
        QUERY = "query", _("popular search")
        PRODUCT = "product", _("product name")
        CATEGORY = "category", _("category")
        TERM = "term", _("vocabulary word")  # spelling correction only, never suggested

    text = models.CharField(_("text"), max_length=200)
    normalized = models.CharField(_("normalised text"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    popularity = models.FloatField(
        _("popularity"), default=0.0, help_text=_("Recency-weighted searches, or products carrying the phrase.")
    )
    sessions = models.PositiveIntegerField(
        _("distinct shoppers"),
        default=0,
        help_text=_("Logged queries: how many distinct shoppers (accounts or network addresses) searched it."),
    )
    related = models.JSONField(_("related searches"), default=list, blank=True)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("suggestion phrase")
        verbose_name_plural = _("suggestion phrases")
        ordering: ClassVar[list[str]] = ["-popularity"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["kind", "normalized"], name="recommender_one_phrase_per_kind"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            # Prefix matches (LIKE 'abc%') whatever the database collation.
            models.Index(fields=["normalized"], name="recommender_sp_prefix_idx", opclasses=["varchar_pattern_ops"]),
            # Word-prefix (LIKE '% abc%'), fuzzy (%>) and spelling (similarity) matches.
            GinIndex(fields=["normalized"], name="recommender_sp_trgm_idx", opclasses=["gin_trgm_ops"]),
        ]

    def __str__(self) -> str:
        return f"{self.text} ({self.kind})"
