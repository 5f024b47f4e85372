"""The trigram list: pg_trgm word similarity of the typed query to product titles and categories.

    trigram_ranking(parsed, filters.rows(version), k=200)    # [(key, similarity), ...]

Catches what words cannot: typos inside names ("jaket", "trosuers"), partial words and
run-together spellings. ``title %> query`` is true when ``word_similarity(query, title)``
reaches ``pg_trgm.word_similarity_threshold`` (set per transaction from
``SEARCH_TRIGRAM_THRESHOLD``); both conditions can use the GIN trigram indexes of migration 0004.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Greatest

from recommender.conf import app_settings
from recommender.models import ProductVector
from recommender.search.query import ParsedQuery

__all__ = ["similarity_threshold", "threshold_settings", "trigram_queryset", "trigram_ranking", "trigram_statement"]

# Fewer characters than this have too few trigrams to say anything.
MIN_CHARS = 3


def trigram_queryset(parsed: ParsedQuery, rows: QuerySet[ProductVector]) -> QuerySet[ProductVector] | None:
    """Rows whose title or category is word-similar to the typed query, most similar first."""
    text = parsed.typed_text
    if len(text.replace(" ", "")) < MIN_CHARS:
        return None
    return (
        rows.filter(Q(title__trigram_word_similar=text) | Q(category__trigram_word_similar=text))
        .annotate(similarity=Greatest(TrigramWordSimilarity(text, "title"), TrigramWordSimilarity(text, "category")))
        .order_by("-similarity", "product_key")
    )


@contextmanager
def similarity_threshold() -> Iterator[None]:
    """A transaction with pg_trgm's word-similarity threshold set from ``SEARCH_TRIGRAM_THRESHOLD``."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)",
            [str(float(app_settings.SEARCH_TRIGRAM_THRESHOLD))],
        )
        yield


def threshold_settings() -> dict[str, str]:
    """The setting :func:`trigram_statement` needs, for ``retrieval.fetch_lists``."""
    return {"pg_trgm.word_similarity_threshold": str(float(app_settings.SEARCH_TRIGRAM_THRESHOLD))}


def trigram_statement(parsed: ParsedQuery, rows: QuerySet[ProductVector], k: int) -> tuple[str, list] | None:
    """:func:`trigram_ranking` as one SELECT of (product_key, similarity); run it with :func:`threshold_settings`."""
    qs = trigram_queryset(parsed, rows)
    if qs is None:
        return None
    sql, params = qs.values_list("product_key", "similarity")[:k].query.sql_with_params()
    return sql, list(params)


def trigram_ranking(parsed: ParsedQuery, rows: QuerySet[ProductVector], k: int) -> list[tuple[str, float]]:
    qs = trigram_queryset(parsed, rows)
    if qs is None:
        return []
    with similarity_threshold():
        return [(key, float(similarity)) for key, similarity in qs.values_list("product_key", "similarity")[:k]]
