"""The search query log behind suggestions and search analytics.

Suggestions only ever come from queries searched by enough distinct shoppers (a setting),
counted by a salted hash of the account or network address (``recommender.clients``), so
nothing one shopper typed leaks to another and a script cannot publish a phrase by making
sessions; the log keeps hashes, never the user, the session or the address.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SearchQuery(models.Model):
    query = models.CharField(_("query"), max_length=500)
    normalized = models.CharField(_("normalised query"), max_length=500, db_index=True)
    session_hash = models.CharField(_("session hash"), max_length=64, blank=True)
    client_hash = models.CharField(
        _("client hash"),
        max_length=64,
        blank=True,
        help_text=_("Salted hash of the account, else the network address: what suggestions count."),
    )
    result_count = models.PositiveIntegerField(_("results"), default=0)
    clicked = models.BooleanField(_("led to a click"), default=False)
    purchased = models.BooleanField(_("led to a purchase"), default=False)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("search query")
        verbose_name_plural = _("search queries")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return self.query
