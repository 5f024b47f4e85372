"""The shop owner's moderation list for search suggestions: phrases approved or blocked.

A threshold of distinct shoppers is a privacy rule, not an abuse guard: enough addresses can
publish anything. So logged queries are also checked against this list and against built-in
patterns (``SEARCH_SUGGESTION_BLOCK_PATTERNS``: web addresses, e-mail addresses, phone numbers):

- ``block`` + ``phrase``: that exact query (normalised) is never suggested;
- ``block`` + ``word``: no query containing that word is;
- ``block`` + ``pattern``: no query matching that regular expression is;
- ``approve`` + ``phrase``: that query may be suggested even when a pattern matches it (with
  ``SEARCH_SUGGESTIONS_APPROVED_ONLY`` only approved queries are suggested at all).

A block beats an approval. Read it through ``recommender.search.moderation``.
"""

from __future__ import annotations

import re
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from recommender.models.suggestions import SuggestionPhrase


class SuggestionRule(models.Model):
    class Action(models.TextChoices):
        BLOCK = "block", _("block")
        APPROVE = "approve", _("approve")

    class Match(models.TextChoices):
        PHRASE = "phrase", _("the whole query")
        WORD = "word", _("a word of the query")
        PATTERN = "pattern", _("a regular expression")

    action = models.CharField(_("action"), max_length=16, choices=Action.choices, default=Action.BLOCK)
    match = models.CharField(_("matches"), max_length=16, choices=Match.choices, default=Match.PHRASE)
    text = models.CharField(
        _("text"),
        max_length=200,
        help_text=_("A query, a word or a regular expression (Python syntax, matched against the lower-case query)."),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("suggestion moderation rule")
        verbose_name_plural = _("suggestion moderation")
        ordering: ClassVar[list[str]] = ["-created_at"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["match", "text"], name="recommender_one_rule_per_text"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.text}"

    def clean(self) -> None:
        if self.match == self.Match.PATTERN:
            try:
                re.compile(self.text)
            except re.error as exc:
                raise ValidationError(
                    {"text": _("Not a valid regular expression: %(error)s") % {"error": exc}}
                ) from exc
        elif self.action == self.Action.APPROVE and self.match != self.Match.PHRASE:
            raise ValidationError({"match": _("Approve whole queries only.")})


class PublishedQueryManager(models.Manager["PublishedQuery"]):
    def get_queryset(self) -> models.QuerySet[PublishedQuery]:
        return super().get_queryset().filter(kind="query")


class PublishedQuery(SuggestionPhrase):
    """The logged queries suggestions serve now: the admin's moderation list blocks or approves them."""

    objects = PublishedQueryManager()

    class Meta:
        proxy = True
        verbose_name = _("suggested search")
        verbose_name_plural = _("suggested searches")
