""" "Did you mean …?" for misspelled queries that found little as typed.

    did_you_mean(parsed, typed_matches=0)     # "skirt" for "skrit", or None

Offered only when the query as typed matches fewer than ``SEARCH_DID_YOU_MEAN_BELOW`` products
(a correct but rare word is not second-guessed). First choice: the query with each unknown word
replaced by the closest catalog word (``spelling.py``), when that finds more products as typed;
else the most similar popular logged query (above the privacy threshold, pg_trgm similarity).
"""

from __future__ import annotations

from django.contrib.postgres.search import TrigramSimilarity
from django.db.models import QuerySet

from recommender.conf import app_settings
from recommender.models import ProductVector, RecommenderSettings
from recommender.models.suggestions import SuggestionPhrase
from recommender.search.fulltext import typed_match_count
from recommender.search.query import ParsedQuery

__all__ = ["did_you_mean"]

# A logged query this similar (pg_trgm similarity) to what was typed is a plausible intent.
MIN_QUERY_SIMILARITY = 0.45


def did_you_mean(parsed: ParsedQuery, rows: QuerySet[ProductVector]) -> str | None:
    """A better query for ``parsed`` among the matching ``rows``, or None."""
    if not parsed.positive:
        return None
    typed = typed_match_count(parsed.text, rows)
    if typed >= app_settings.SEARCH_DID_YOU_MEAN_BELOW:
        return None
    # Only a correction that finds more than the query as typed is worth offering.
    if parsed.has_corrections and parsed.corrected != parsed.text and typed_match_count(parsed.corrected, rows) > typed:
        return parsed.corrected
    logged = (
        SuggestionPhrase.objects.filter(
            kind=SuggestionPhrase.Kind.QUERY, sessions__gte=RecommenderSettings.get().suggestion_min_sessions
        )
        .exclude(normalized=parsed.text)
        .annotate(similarity=TrigramSimilarity("normalized", parsed.text))
        .filter(similarity__gte=MIN_QUERY_SIMILARITY)
        .order_by("-similarity", "-popularity")
        .values_list("normalized", flat=True)
        .first()
    )
    return logged or None
