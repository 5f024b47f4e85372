""" "Did you mean …?" for misspelled queries that found little as typed.

    did_you_mean(parsed, filters, version)     # "skirt" for "skrit", or None

Offered only when the query as typed matches fewer than ``SEARCH_DID_YOU_MEAN_BELOW`` products
(a correct but rare word is not second-guessed). First choice: the query with each unknown word
replaced by the closest catalog word (``spelling.py``), when that finds more products as typed;
else the most similar popular logged query (above the privacy threshold, pg_trgm similarity).

Everything it needs comes back from one statement (the two match counts and the closest logged
query), compiled once per filter shape: asked one by one through the ORM, a misspelled query paid
four round trips and a sequential similarity scan of the query log here (9 ms of a typo query's
search on H&M, ``bench/results/search_latency.md``).
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery

from recommender.conf import app_settings
from recommender.models import ModelVersion, RecommenderSettings
from recommender.models.suggestions import SuggestionPhrase
from recommender.search.filters import SearchFilters
from recommender.search.fulltext import typed_match_queryset
from recommender.search.query import ParsedQuery
from recommender.search.statements import compiled
from recommender.storage import fetch_with_settings

__all__ = ["did_you_mean", "did_you_mean_statement"]

# A logged query this similar (pg_trgm similarity) to what was typed is a plausible intent.
MIN_QUERY_SIMILARITY = 0.45
# Counting stops here: only "fewer than SEARCH_DID_YOU_MEAN_BELOW" and "more than typed" matter.
COUNT_CAP = 1000
# Stand-ins for the two texts in a compiled statement (no query can contain a control character).
_TYPED, _CORRECTED = "\x01typed", "\x01corrected"


def did_you_mean(parsed: ParsedQuery, filters: SearchFilters, version: ModelVersion) -> str | None:
    """A better query for ``parsed`` among the products ``filters`` allow in ``version``, or None."""
    if not parsed.positive:
        return None
    corrected = parsed.corrected if parsed.has_corrections and parsed.corrected != parsed.text else None
    min_sessions = RecommenderSettings.get().suggestion_min_sessions
    sql, params = did_you_mean_statement(parsed.text, corrected, filters, version, min_sessions)
    # pg_trgm's % operator (index-backed) at the logged-query threshold, for this statement only.
    settings = {"pg_trgm.similarity_threshold": str(MIN_QUERY_SIMILARITY)}
    typed, corrected_count, logged = fetch_with_settings(sql, params, settings)[0]
    if typed >= app_settings.SEARCH_DID_YOU_MEAN_BELOW:
        return None
    # Only a correction that finds more than the query as typed is worth offering.
    if corrected is not None and corrected_count > typed:
        return corrected
    return logged or None


def did_you_mean_statement(
    text: str, corrected: str | None, filters: SearchFilters, version: ModelVersion, min_sessions: int
) -> tuple[str, list]:
    """One SELECT of (matches of ``text``, matches of ``corrected`` or 0, closest logged query)."""
    config = app_settings.SEARCH_TEXT_CONFIG
    sql, params = compiled(
        ("did_you_mean", filters, version.pk, config, corrected is not None),
        lambda: _template(filters, version, config, with_corrected=corrected is not None),
    )
    values = {_TYPED: text, _CORRECTED: corrected}
    return sql, [values.get(p, p) if isinstance(p, str) else p for p in params] + [
        SuggestionPhrase.Kind.QUERY.value,
        int(min_sessions),
        text,
        text,
        text,
        MIN_QUERY_SIMILARITY,
        text,
    ]


def _template(filters: SearchFilters, version: ModelVersion, config: str, *, with_corrected: bool) -> tuple[str, list]:
    """The statement with the query texts as stand-ins (filled per query by the caller)."""
    rows = filters.rows(version)
    counts, params = [], []
    for text in (_TYPED, _CORRECTED) if with_corrected else (_TYPED,):
        query = typed_match_queryset(SearchQuery(text, search_type="websearch", config=config), rows, config)
        sql, query_params = query.values_list("pk", flat=True)[:COUNT_CAP].query.sql_with_params()
        counts.append(f"(SELECT count(*) FROM ({sql}) AS m)")
        params.extend(query_params)
    if not with_corrected:
        counts.append("0")
    logged = (
        f"(SELECT normalized FROM {SuggestionPhrase._meta.db_table} "
        "WHERE kind = %s AND sessions >= %s AND normalized <> %s AND normalized %% %s "
        "AND similarity(normalized, %s) >= %s "
        "ORDER BY similarity(normalized, %s) DESC, popularity DESC, normalized LIMIT 1)"
    )
    return f"SELECT {', '.join(counts)}, {logged}", params
