"""Suggestion moderation: the rules (block a phrase, a word or a pattern; approve a phrase) and the
list of searches suggestions serve now, with actions to block or approve them.

Saving or deleting a rule applies it at once (``recommender.search.moderation.enforce``): a
blocked phrase disappears from suggestions immediately; an unblocked one returns at the next
suggestion refresh. The search log (``activity``) has the same "block" action, to stop a query
before it is ever published.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from recommender.admin.base import ReadOnlyAdmin
from recommender.models import PublishedQuery, SuggestionRule
from recommender.search.moderation import approve, block, enforce
from recommender.search.normalize import normalize_query


def may_moderate(request: HttpRequest) -> bool:
    """Moderating means adding rules: the rule model's add permission."""
    return request.user.has_perm("recommender.add_suggestionrule")


def moderate(model_admin: admin.ModelAdmin, request: HttpRequest, phrases: list[str], action: str) -> None:
    """Block or approve each phrase; tell the admin how many."""
    apply = block if action == SuggestionRule.Action.BLOCK else approve
    done = {normalize_query(p) for p in phrases if normalize_query(p)}
    for phrase in sorted(done):
        apply(phrase, note=str(_("from the admin")))
    verb = _("blocked") if action == SuggestionRule.Action.BLOCK else _("approved")
    model_admin.message_user(
        request,
        ngettext("%(n)d phrase %(verb)s.", "%(n)d phrases %(verb)s.", len(done)) % {"n": len(done), "verb": verb},
        messages.SUCCESS,
    )


@admin.register(SuggestionRule)
class SuggestionRuleAdmin(admin.ModelAdmin):
    list_display = ("text", "match", "action", "note", "created_at")
    list_filter = ("action", "match")
    search_fields = ("text", "note")
    readonly_fields = ("created_at",)

    def save_model(self, request: HttpRequest, obj: SuggestionRule, form: Any, change: bool) -> None:
        if obj.match != SuggestionRule.Match.PATTERN:
            obj.text = normalize_query(obj.text, 200)
        super().save_model(request, obj, form, change)
        enforce()

    def delete_model(self, request: HttpRequest, obj: SuggestionRule) -> None:
        super().delete_model(request, obj)
        enforce()  # an approval removed may leave a phrase that a pattern blocks

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SuggestionRule]) -> None:
        super().delete_queryset(request, queryset)
        enforce()


@admin.register(PublishedQuery)
class PublishedQueryAdmin(ReadOnlyAdmin):
    list_display = ("normalized", "sessions", "popularity", "last_seen")
    search_fields = ("normalized",)
    actions = ("block_phrases", "approve_phrases")
    ordering = ("-popularity",)

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return may_moderate(request)

    @admin.action(description=_("Block: never suggest these searches"), permissions=["moderate"])
    def block_phrases(self, request: HttpRequest, queryset: QuerySet[PublishedQuery]) -> None:
        moderate(self, request, list(queryset.values_list("normalized", flat=True)), SuggestionRule.Action.BLOCK)

    @admin.action(description=_("Approve: suggest these searches despite the block patterns"), permissions=["moderate"])
    def approve_phrases(self, request: HttpRequest, queryset: QuerySet[PublishedQuery]) -> None:
        moderate(self, request, list(queryset.values_list("normalized", flat=True)), SuggestionRule.Action.APPROVE)
