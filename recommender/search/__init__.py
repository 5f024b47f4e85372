"""Product search and suggestions: hybrid ranking, search by image, as-you-type suggestions.

    from recommender.search import SearchFilters, search, search_by_image, suggest, related_searches

    results = search("maroon pullover", filters=SearchFilters(max_price=Decimal("50")), request=request)
    results.hits, results.total, results.facets, results.did_you_mean
    search_by_image(request.FILES["image"], limit=12, request=request)   # logged: strategy "image", query ""
    suggest("blac", limit=8)              # [Suggestion(text="black dress", kind="query"), ...]
    related_searches("black dress")       # ["black skirt", ...]
    refresh_suggestions()                 # beat: rebuild the suggestion phrases

One module per concern: ``query`` (parsing, expansion, correction) with ``lexicon``,
``spelling`` and ``normalize``; the ranked lists ``dense``, ``fulltext`` and ``trigram``,
sent together in one SQL statement by ``retrieval``;
``fusion`` (reciprocal rank fusion) and ``boosts`` (profile, popularity); ``engine`` (the
pipeline) with ``filters``, ``facets``, ``didyoumean`` and ``results``; ``image``;
``phrases`` (materialised suggestions) and ``suggestions``; ``querylog`` and ``receivers``
(the search log and its click/purchase outcomes).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time names load lazily below
    from recommender.search.engine import MAX_LIMIT, MAX_OFFSET, EmptyQuery, ranked_lists, retrieve_lists, search
    from recommender.search.filters import SearchFilters
    from recommender.search.fusion import reciprocal_rank_fusion
    from recommender.search.image import ImageSearchError, SearchUnavailable, search_by_image
    from recommender.search.phrases import refresh_suggestions
    from recommender.search.query import ParsedQuery, TermGroup, parse_query
    from recommender.search.querylog import log_search, mark_outcome
    from recommender.search.results import SearchHit, SearchResults
    from recommender.search.suggestions import Suggestion, related_searches, suggest

# Public name -> defining module. Loaded on first access (PEP 562), so the Django-free modules
# (lexicon, normalize, fusion) import without settings and ``ready()`` stays cheap.
_EXPORTS = {
    "MAX_LIMIT": "engine",
    "MAX_OFFSET": "engine",
    "EmptyQuery": "engine",
    "ranked_lists": "engine",
    "retrieve_lists": "engine",
    "search": "engine",
    "SearchFilters": "filters",
    "reciprocal_rank_fusion": "fusion",
    "ImageSearchError": "image",
    "SearchUnavailable": "image",
    "search_by_image": "image",
    "refresh_suggestions": "phrases",
    "ParsedQuery": "query",
    "TermGroup": "query",
    "parse_query": "query",
    "log_search": "querylog",
    "mark_outcome": "querylog",
    "SearchHit": "results",
    "SearchResults": "results",
    "Suggestion": "suggestions",
    "related_searches": "suggestions",
    "suggest": "suggestions",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'recommender.search' has no attribute {name!r}")
    value = getattr(import_module(f"recommender.search.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "MAX_LIMIT",
    "MAX_OFFSET",
    "EmptyQuery",
    "ImageSearchError",
    "ParsedQuery",
    "SearchFilters",
    "SearchHit",
    "SearchResults",
    "SearchUnavailable",
    "Suggestion",
    "TermGroup",
    "log_search",
    "mark_outcome",
    "parse_query",
    "ranked_lists",
    "reciprocal_rank_fusion",
    "refresh_suggestions",
    "related_searches",
    "retrieve_lists",
    "search",
    "search_by_image",
    "suggest",
]
