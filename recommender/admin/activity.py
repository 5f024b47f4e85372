"""Read-only logs the app writes itself: shopper events, the search query log and profiles
(profile vectors and the log's hashes are never shown). A logged query can be blocked from
suggestions from here (``moderation``)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from recommender.admin.base import ReadOnlyAdmin
from recommender.admin.moderation import may_moderate, moderate
from recommender.models import Event, Profile, SearchQuery, SuggestionRule


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "type", "product_key", "query", "slot", "strategy", "user", "processed")
    list_filter = ("type", "slot", "strategy", "processed")
    search_fields = ("^product_key", "query")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    show_full_result_count = False


class ZeroResultsFilter(admin.SimpleListFilter):
    title = _("results")
    parameter_name = "results"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("none", _("no results")), ("some", _("some results"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "none":
            return queryset.filter(result_count=0)
        if self.value() == "some":
            return queryset.filter(result_count__gt=0)
        return queryset


@admin.register(SearchQuery)
class SearchQueryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "query", "normalized", "result_count", "clicked", "purchased")
    list_filter = (ZeroResultsFilter, "clicked", "purchased")
    search_fields = ("normalized",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    exclude = ("session_hash", "client_hash")
    actions = ("block_phrases",)

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return may_moderate(request)

    @admin.action(description=_("Block: never suggest these searches"), permissions=["moderate"])
    def block_phrases(self, request: HttpRequest, queryset: QuerySet[SearchQuery]) -> None:
        moderate(self, request, list(queryset.values_list("normalized", flat=True)), SuggestionRule.Action.BLOCK)


@admin.register(Profile)
class ProfileAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "user", "version", "event_count", "last_event_at", "updated_at")
    list_filter = (("version", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("user", "version")
    fields = ("user", "session_key", "version", "event_count", "last_event_at", "updated_at")
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("vector")
