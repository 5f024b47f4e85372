"""The full-text list: Postgres text search over title (A), category (B) and document (C).

    fulltext_ranking(parsed, filters.rows(version), k=200)    # [(key, score), ...] best first

A product matches when it contains any word of the query or an alternative of it (lexicon
expansion, spelling correction). Products that contain every word (or match the shopper's
``websearch`` syntax exactly) come first, by ``ts_rank``; partial matches follow, ranked on
title and category. The tsvector expression is exactly the one indexed by migration 0004 (GIN),
so matching is an index scan; ``tests/test_search_indexes.py`` checks the plans.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from functools import reduce
from operator import and_, or_

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import Expression

from recommender.conf import app_settings
from recommender.models import ProductVector
from recommender.search.document import DOCUMENT_CONFIG, stored_document
from recommender.search.query import ParsedQuery, TermGroup

__all__ = [
    "fill_template",
    "fulltext_planner_settings",
    "fulltext_queryset",
    "fulltext_ranking",
    "fulltext_shape",
    "fulltext_statement",
    "fulltext_template",
    "partial_queryset",
    "search_vector",
    "stored_or_computed_vector",
    "typed_match_queryset",
]

# ts_rank weights for D, C, B, A labels: a title hit counts most, then the category.
RANK_WEIGHTS = [0.1, 0.2, 0.4, 1.0]
# The same weights with the document (C) and D labels at zero: ts_rank of the stored document
# then equals ts_rank of title + category alone (title and category come first in the document,
# so the zero-weight positions only follow; checked equal on every H&M row and bench query).
HEAD_RANK_WEIGHTS = [0.0, 0.0, 0.4, 1.0]
# Products matching every query word get this on top of ts_rank (which stays below 1).
COMPLETE_MATCH_BONUS = 1.0
# The planner's cost of a random page read while the full-text list runs: see fulltext_planner_settings.
RANDOM_PAGE_COST = "1.1"


def fulltext_planner_settings() -> dict[str, str]:
    """The transaction-local planner setting the full-text list runs with (``retrieval.fetch_lists``).

    The partial-match list reads every product whose document shares a word with the query: on
    H&M, "cream leggings" matches 1,991 of 6,000 ("white" and "light" are synonyms of "cream").
    With Postgres' default ``random_page_cost`` (4, priced for spinning disks) the planner walks
    the version's whole index and tests each document (8.3 ms) rather than ask the GIN index
    (4.0 ms). 1.1 is the usual value for data in memory or on SSDs; set for this statement only,
    so the shop's own configuration is untouched. Plans change, results do not.

    Inside the host's transaction (``ATOMIC_REQUESTS``, an ``atomic()`` block) a transaction-local
    setting would last until the host commits and re-plan the host's own queries: none then.
    """
    if connection.in_atomic_block:
        return {}
    return {"random_page_cost": RANDOM_PAGE_COST}


def search_vector(config: str | None = None) -> SearchVector:
    """The weighted tsvector of a product row (keep in step with the index in migration 0004)."""
    config = config or app_settings.SEARCH_TEXT_CONFIG
    return (
        SearchVector("title", weight="A", config=config)
        + SearchVector("category", weight="B", config=config)
        + SearchVector("document", weight="C", config=config)
    )


def stored_or_computed_vector(config: str) -> Expression:
    """The row's tsvector to match and rank on: the stored column (``document.py``) for its
    configuration, else computed from the fields (same value; unindexed)."""
    return stored_document() if config == DOCUMENT_CONFIG else search_vector(config)


def _term(term: str, config: str) -> SearchQuery:
    """A word as a plain query; several words (or hyphenated ones) as a phrase."""
    search_type = "phrase" if (" " in term or "-" in term) else "plain"
    return SearchQuery(term, search_type=search_type, config=config)


def _group(group: TermGroup, config: str) -> SearchQuery:
    if group.quoted:
        return SearchQuery(group.text, search_type="phrase", config=config)
    return reduce(or_, (_term(t, config) for t in group.terms))


def queries(parsed: ParsedQuery, config: str) -> tuple[SearchQuery | None, SearchQuery | None, SearchQuery | None]:
    """(any word matches, every word matches, excluded words) as tsqueries."""
    positive = [_group(g, config) for g in parsed.positive]
    if not positive:
        return None, None, None
    any_query = reduce(or_, positive)
    every = reduce(and_, positive)
    all_query = every | SearchQuery(parsed.text, search_type="websearch", config=config)
    negated = [_group(g, config) for g in parsed.negated]
    excluded = reduce(or_, negated) if negated else None
    return any_query, all_query, excluded


def _matching(rows: QuerySet[ProductVector], query: SearchQuery, excluded: SearchQuery | None, config: str):
    qs = rows.annotate(search=stored_or_computed_vector(config)).filter(search=query)  # the GIN index
    return qs.exclude(search=excluded) if excluded is not None else qs


def fulltext_queryset(parsed: ParsedQuery, rows: QuerySet[ProductVector]) -> QuerySet[ProductVector] | None:
    """Products matching every word (or the websearch syntax as typed), by ts_rank; None: no words."""
    config = app_settings.SEARCH_TEXT_CONFIG
    any_query, all_query, excluded = queries(parsed, config)
    if any_query is None:
        return None
    rank = SearchRank(stored_or_computed_vector(config), any_query, weights=RANK_WEIGHTS)
    return _matching(rows, all_query, excluded, config).annotate(rank=rank).order_by("-rank", "product_key")


def partial_queryset(
    parsed: ParsedQuery, rows: QuerySet[ProductVector], skip: list[str] | None
) -> QuerySet[ProductVector] | None:
    """Products matching some words, ranked on title and category only.

    Partial matches are many (every black product for "black dress") and rank below complete
    ones anyway, so they rank on the short fields: on the stored document with the document's
    weight at zero (nothing parsed per row), else on title and category parsed per row.
    """
    config = app_settings.SEARCH_TEXT_CONFIG
    any_query, _all_query, excluded = queries(parsed, config)
    if any_query is None:
        return None
    if config == DOCUMENT_CONFIG:
        rank = SearchRank(stored_document(), any_query, weights=HEAD_RANK_WEIGHTS)
    else:
        head = SearchVector("title", weight="A", config=config) + SearchVector("category", weight="B", config=config)
        rank = SearchRank(head, any_query, weights=RANK_WEIGHTS)
    qs = _matching(rows, any_query, excluded, config)
    if skip:
        qs = qs.exclude(product_key__in=skip)
    return qs.annotate(rank=rank).order_by("-rank", "product_key")


def fulltext_ranking(parsed: ParsedQuery, rows: QuerySet[ProductVector], k: int) -> list[tuple[str, float]]:
    """Up to ``k`` (key, score): complete matches (score above 1) first, then partial ones."""
    complete = fulltext_queryset(parsed, rows)
    if complete is None:
        return []
    out = [(key, COMPLETE_MATCH_BONUS + float(rank)) for key, rank in complete.values_list("product_key", "rank")[:k]]
    if len(out) < k:
        partial = partial_queryset(parsed, rows, [key for key, _ in out])
        out += [(key, float(rank)) for key, rank in partial.values_list("product_key", "rank")[: k - len(out)]]
    return out


def fulltext_statement(parsed: ParsedQuery, rows: QuerySet[ProductVector], k: int) -> tuple[str, list] | None:
    """:func:`fulltext_ranking` as one SELECT of (product_key, score), for ``retrieval.fetch_lists``.

    The partial matches run only when fewer than ``k`` products match completely (a one-time
    filter), and skip the complete ones, exactly as the two queries of ``fulltext_ranking`` do.
    """
    complete = fulltext_queryset(parsed, rows)
    if complete is None:
        return None
    complete_sql, complete_params = complete.values_list("product_key", "rank")[:k].query.sql_with_params()
    partial = partial_queryset(parsed, rows, None).order_by().values_list("product_key", "rank")
    partial_sql, partial_params = partial.query.sql_with_params()
    sql = (
        f"WITH complete AS (SELECT * FROM ({complete_sql}) AS c(product_key, rank)) "
        "SELECT product_key, score FROM ("
        "SELECT product_key, %s::float8 + rank AS score, 1 AS tier, rank FROM complete "
        "UNION ALL (SELECT p.product_key, p.rank, 0, p.rank "
        f"FROM ({partial_sql}) AS p(product_key, rank) "
        "WHERE (SELECT count(*) FROM complete) < %s "
        "AND p.product_key NOT IN (SELECT product_key FROM complete) "
        "ORDER BY p.rank DESC, p.product_key LIMIT %s)"
        ") AS ranked ORDER BY tier DESC, rank DESC, product_key LIMIT %s"
    )
    params = [*complete_params, COMPLETE_MATCH_BONUS, *partial_params, int(k), int(k), int(k)]
    return sql, params


def _strings(parsed: ParsedQuery) -> list[str]:
    """Every string :func:`queries` turns into a tsquery, in a fixed order: the groups' terms
    (a quoted group: its text), then the text as typed (the websearch form)."""
    out = []
    for group in parsed.groups:
        out += [group.text] if group.quoted else list(group.terms)
    return [*out, parsed.text]


def fulltext_shape(parsed: ParsedQuery) -> tuple:
    """What the full-text SQL depends on besides the strings: per group negated, quoted and
    each term's kind (a word or a phrase). Queries of one shape share one compiled statement."""
    return tuple(
        (g.negated, g.quoted, () if g.quoted else tuple(" " in t or "-" in t for t in g.terms)) for g in parsed.groups
    )


def fulltext_template(parsed: ParsedQuery, rows: QuerySet[ProductVector], k: int) -> tuple[str, list] | None:
    """:func:`fulltext_statement` for ``parsed``'s shape: its parameters hold ``_Slot(i)`` where
    the i-th string of :func:`_strings` goes (compiling the queryset costs 4 to 7 ms; filling a
    template, nothing). Built from a copy of the query whose strings are unique placeholders."""
    names = itertools.count()

    def placeholder(term: str) -> str:  # unique, and a phrase where the term is one
        return f"\x01{next(names)}" + (" \x01" if " " in term or "-" in term else "")

    groups = []
    for g in parsed.groups:
        if g.quoted:
            groups.append(replace(g, text=placeholder(g.text), alternatives=(), correction=""))
            continue
        terms = [placeholder(t) for t in g.terms]
        groups.append(replace(g, text=terms[0], alternatives=tuple(terms[1:]), correction=""))
    skeleton = replace(parsed, groups=tuple(groups), text=placeholder(parsed.text))
    built = fulltext_statement(skeleton, rows, k)
    if built is None:
        return None
    slots = {value: _Slot(i) for i, value in enumerate(_strings(skeleton))}
    sql, params = built
    return sql, [slots.get(p, p) if isinstance(p, str) else p for p in params]


class _Slot(int):
    """A template parameter standing for the query's n-th string."""


def fill_template(template: tuple[str, list] | None, parsed: ParsedQuery) -> tuple[str, list] | None:
    """The statement of ``parsed`` from its shape's template (see :func:`fulltext_template`)."""
    if template is None:
        return None
    strings = _strings(parsed)
    sql, params = template
    return sql, [strings[p] if isinstance(p, _Slot) else p for p in params]


def typed_match_queryset(query: SearchQuery, rows: QuerySet[ProductVector], config: str) -> QuerySet[ProductVector]:
    """The ``rows`` that match ``query`` on the row's tsvector (stored, else computed)."""
    return rows.annotate(search=stored_or_computed_vector(config)).filter(search=query)
