"""The trigram list: pg_trgm word similarity of the typed query to product titles and categories.

    trigram_ranking(parsed, filters.rows(version), k=200)    # [(key, similarity), ...]

Catches what words cannot: typos inside names ("jaket", "trosuers"), partial words and
run-together spellings. ``title %> query`` is true when ``word_similarity(query, title)``
reaches ``pg_trgm.word_similarity_threshold`` (set per transaction from
``SEARCH_TRIGRAM_THRESHOLD``); both conditions can use the GIN trigram indexes of migration 0004.

The statement search sends (:func:`trigram_statement`) returns exactly :func:`trigram_queryset`'s
rows for less work. A product's score is the greater of its title's and its category's word
similarity, and a product whose title is below the threshold while its category is above it scores
its category's similarity exactly. So word similarity is computed per row only for titles the
trigram index finds, and once per category name (about a hundred on H&M, read one index probe
each). The category condition used to recheck every row of a matching category: "sweeater" matches
"Sweater", 1,180 rows. Over the 754 lists of the benchmark's 377 queries, with and without
filters: identical rows and scores; the list alone p95 6.80 → 5.55 ms, p99 9.87 → 6.33 (p50
2.61 → 2.99: the category scan costs about 0.3 ms). The statement is compiled once per filters, with the typed
query as a parameter (:func:`trigram_template`).
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

__all__ = [
    "fill_trigram_template",
    "similarity_threshold",
    "threshold_settings",
    "trigram_queryset",
    "trigram_ranking",
    "trigram_statement",
    "trigram_template",
]

# Fewer characters than this have too few trigrams to say anything.
MIN_CHARS = 3
# Stands for the typed query in a template's parameters (no query contains a control character).
_TYPED = "\x01typed"


def trigram_queryset(parsed: ParsedQuery, rows: QuerySet[ProductVector]) -> QuerySet[ProductVector] | None:
    """Rows whose title or category is word-similar to the typed query, most similar first."""
    text = parsed.typed_text
    if not _comparable(text):
        return None
    return (
        rows.filter(Q(title__trigram_word_similar=text) | Q(category__trigram_word_similar=text))
        .annotate(similarity=Greatest(TrigramWordSimilarity(text, "title"), TrigramWordSimilarity(text, "category")))
        .order_by("-similarity", "product_key")
    )


def _comparable(text: str) -> bool:
    """Whether ``text`` has enough characters (spaces aside) for trigrams to say anything."""
    return len(text.replace(" ", "")) >= MIN_CHARS


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
    return fill_trigram_template(trigram_template(rows, k), parsed)


def trigram_template(rows: QuerySet[ProductVector], k: int) -> tuple[str, list]:
    """The trigram list's statement over ``rows`` for any query: the typed query's places in the
    parameters hold a stand-in (:func:`fill_trigram_template` puts it in).

    Titles the index finds (``titled``) score the greater of their title's and category's
    similarity; the other rows of a matching category score the category's. Category names come
    from a loose scan of the category b-tree (the smallest name after the previous one).
    """
    titled = (
        rows.filter(title__trigram_word_similar=_TYPED)
        .annotate(title_similarity=TrigramWordSimilarity(_TYPED, "title"))
        .values_list("pk", "product_key", "category", "title_similarity")
    )
    titled_sql, titled_params = titled.query.sql_with_params()
    rows_sql, rows_params = rows.values_list("pk", "product_key", "category").query.sql_with_params()
    table = ProductVector._meta.db_table
    sql = (
        "WITH RECURSIVE names AS ("
        f"SELECT min(category) AS name FROM {table} UNION ALL "
        f"SELECT (SELECT min(category) FROM {table} WHERE category > names.name) FROM names "
        "WHERE names.name IS NOT NULL), "
        "categories AS MATERIALIZED (SELECT name, word_similarity(%s, name) AS similarity FROM names "
        "WHERE name %%> %s), "
        f"titled AS MATERIALIZED ({titled_sql}) "
        "SELECT product_key, similarity FROM ("
        "SELECT t.product_key, GREATEST(t.title_similarity, c.similarity) AS similarity "
        "FROM titled AS t(id, product_key, category, title_similarity) "
        "LEFT JOIN categories AS c ON c.name = t.category "
        f"UNION ALL SELECT r.product_key, c.similarity FROM ({rows_sql}) AS r(id, product_key, category) "
        "JOIN categories AS c ON c.name = r.category "
        "WHERE r.id NOT IN (SELECT found.id FROM titled AS found(id, product_key, category, title_similarity))"
        ") AS ranked ORDER BY similarity DESC, product_key LIMIT %s"
    )
    return sql, [_TYPED, _TYPED, *titled_params, *rows_params, int(k)]


def fill_trigram_template(template: tuple[str, list], parsed: ParsedQuery) -> tuple[str, list] | None:
    """``parsed``'s trigram statement from :func:`trigram_template`; None when too short to compare."""
    text = parsed.typed_text
    if not _comparable(text):
        return None
    sql, params = template
    return sql, [text if isinstance(p, str) and p == _TYPED else p for p in params]


def trigram_ranking(parsed: ParsedQuery, rows: QuerySet[ProductVector], k: int) -> list[tuple[str, float]]:
    qs = trigram_queryset(parsed, rows)
    if qs is None:
        return []
    with similarity_threshold():
        return [(key, float(similarity)) for key, similarity in qs.values_list("product_key", "similarity")[:k]]
