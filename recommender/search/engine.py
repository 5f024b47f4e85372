"""Hybrid search: ranked lists → reciprocal rank fusion → eligibility, boosts, rules → one page.

    results = search("maroon pullover", filters=SearchFilters(max_price=Decimal(50)), request=request)
    lists = ranked_lists(parse_query("skrit"), SearchFilters(), version, k=200)   # each list alone

The lists: the query's text vector against product text vectors and fused vectors (pgvector),
Postgres full text (with lexicon expansion and spelling correction) and pg_trgm similarity.
Their ranks are fused with ``SEARCH_WEIGHTS`` and ``SEARCH_RRF_K``; the shopper's profile and
recent popularity then rerank the candidates slightly. Merchandising rules of the ``search``
slot apply as in recommendations (exclude, boost, bury; pins only among matching products).

Facets are disjunctive, as shoppers expect: each facet counts the results with every other
active filter applied but not its own, so with ``category=Dress`` selected the category facet
still counts the other categories (and the price facet counts dresses only). Each lifted filter
costs one more retrieval (the query vector is cached); without category or price filters there
is none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from django.utils.translation import gettext

from recommender.conf import app_settings
from recommender.events import records_events, shopper, shopper_session_id
from recommender.models import MerchandisingRule, ModelVersion
from recommender.product_facts import ProductFacts
from recommender.rules import apply_rules, rules_in_window
from recommender.search.boosts import personal_ranking, popularity_ranking, popularity_statement, stored_profile
from recommender.search.dense import dense_statement, query_vector, query_vector_soon
from recommender.search.didyoumean import did_you_mean
from recommender.search.facets import facets
from recommender.search.filters import SearchFilters
from recommender.search.fulltext import fill_template, fulltext_planner_settings, fulltext_shape, fulltext_template
from recommender.search.fusion import reciprocal_rank_fusion
from recommender.search.multilingual import leg_weights, multilingual_statements, parse_shopper_query, shown_text
from recommender.search.phrases import ensure_phrases
from recommender.search.query import ParsedQuery
from recommender.search.querylog import count_search_impressions, live_session, log_search
from recommender.search.reasons import text_reason
from recommender.search.results import SearchHit, SearchResults
from recommender.search.retrieval import Retrieved, Statement, fetch_lists, joined
from recommender.search.statements import compiled
from recommender.search.trigram import fill_trigram_template, threshold_settings, trigram_template
from recommender.storage import fetch_vectors, hnsw_settings
from recommender.strategies.base import Candidate
from recommender.versions import one_serving_version

__all__ = [
    "MAX_LIMIT",
    "MAX_OFFSET",
    "RETRIEVAL_LISTS",
    "EmptyQuery",
    "Retrieve",
    "finish_results",
    "ranked_lists",
    "retrieve_lists",
    "search",
]

MAX_LIMIT = 100
# Deep pages of a relevance ranking are never read; bounding them bounds every list's k.
MAX_OFFSET = 1000
SLOT = "search"
RETRIEVAL_LISTS = ("text_vector", "fused_vector", "fulltext", "trigram")
# The vector lists and the product column each compares the query vector with.
DENSE_COLUMNS = {"text_vector": "text_embedding", "fused_vector": "embedding"}

# The ranked lists of one query under the given filters, with their products' facts.
Retrieve = Callable[[SearchFilters], Retrieved]


class EmptyQuery(ValueError):
    """The query has no searchable words."""


def retrieve_lists(
    parsed: ParsedQuery,
    filters: SearchFilters,
    version: ModelVersion,
    k: int,
    *,
    weights: Mapping[str, float] | None = None,
    always_trigram: bool = False,
) -> Retrieved:
    """Each retrieval list's top ``k`` (key, score), filtered, with their products' facts, in one
    round trip (``retrieval.py``); lists with weight 0 are skipped.

    A query whose vector this process does not hold yet is encoded on a background thread while
    the lexical lists run (``dense.query_vector_soon``); the vector lists then follow in a second
    statement, with the boosts over every listed product. The answer is the same either way.

    The trigram list only runs for queries with a word that neither product texts nor the
    lexicon contain (a typo, a partial word): for known words the other lists already match
    exactly, and trigram scans are the costliest part of a query (``always_trigram`` forces it).
    """
    weights = leg_weights(parsed, app_settings.SEARCH_WEIGHTS if weights is None else weights)
    dense_legs = [name for name in DENSE_COLUMNS if weights.get(name, 0) > 0]
    pending = query_vector_soon(version, parsed.dense_text) if dense_legs else None
    config = app_settings.SEARCH_TEXT_CONFIG
    lexical: dict[str, Statement | None] = dict(multilingual_statements(parsed, filters, k, weights))
    settings: dict[str, str] = hnsw_settings() if lexical or dense_legs else {}
    if weights.get("fulltext", 0) > 0:
        # Compiled once per query shape (an unseen query of a known shape compiles nothing).
        template = compiled(
            ("fulltext", fulltext_shape(parsed), filters, version.pk, k, config),
            lambda: fulltext_template(parsed, filters.rows(version), k),
        )
        lexical["fulltext"] = fill_template(template, parsed)
        settings.update(fulltext_planner_settings())
    if weights.get("trigram", 0) > 0 and (parsed.unknown_words or always_trigram):
        # Compiled once per filters, as the full-text list per shape.
        template = compiled(("trigram", filters, version.pk, k), lambda: trigram_template(filters.rows(version), k))
        lexical["trigram"] = fill_trigram_template(template, parsed)
        settings.update(threshold_settings())
    derived = {"popularity": popularity_statement} if weights.get("popularity", 0) > 0 else {}
    if pending is not None and _present(lexical):
        first = fetch_lists(_present(lexical), version, settings)  # while the query is encoded
        dense = _dense_statements(pending.result(), dense_legs, version, filters, k)
        second = fetch_lists(_present(dense), version, settings, derived=derived, listed=list(first.facts))
        got = joined(first, second)
    else:
        vector = None
        if dense_legs:
            vector = pending.result() if pending is not None else query_vector(version, parsed.dense_text)
        dense = _dense_statements(vector, dense_legs, version, filters, k)
        got = fetch_lists(_present({**lexical, **dense}), version, settings, derived=derived)
    got.lists = {name: got.lists.get(name, []) for name in (*lexical, *dense)}  # a list that could not run is empty
    return got


def _present(statements: Mapping[str, Statement | None]) -> dict[str, Statement]:
    return {name: s for name, s in statements.items() if s is not None}


def _dense_statements(
    vector: Any, legs: list[str], version: ModelVersion, filters: SearchFilters, k: int
) -> dict[str, Statement | None]:
    """The vector lists ``legs`` of the query ``vector`` (None each when there is no vector)."""
    floor = float(app_settings.SEARCH_MIN_SIMILARITY)
    margin = float(app_settings.SEARCH_SIMILARITY_MARGIN)
    out: dict[str, Statement | None] = {}
    for leg in legs:
        if vector is None:
            out[leg] = None
        elif leg == "text_vector":
            out[leg] = dense_statement(
                vector, version, filters, column=DENSE_COLUMNS[leg], k=k, min_similarity=floor, margin=margin
            )
        else:
            # Text-to-fused similarities run lower than text-to-text (the image share): only the
            # relative margin applies.
            out[leg] = dense_statement(vector, version, filters, column=DENSE_COLUMNS[leg], k=k, margin=margin)
    return out


def ranked_lists(
    parsed: ParsedQuery,
    filters: SearchFilters,
    version: ModelVersion,
    k: int,
    *,
    weights: Mapping[str, float] | None = None,
    always_trigram: bool = False,
) -> dict[str, list[tuple[str, float]]]:
    """Each retrieval list's top ``k`` (key, score), filtered: :func:`retrieve_lists` without the facts."""
    return retrieve_lists(parsed, filters, version, k, weights=weights, always_trigram=always_trigram).lists


def shopper_of(request: Any, user: Any, session_key: str, create: bool) -> tuple[Any, str]:
    """(user, session id) to personalise and log with: the given ones, else the request's.

    ``create`` gives the shopper an id in a session they already have; a search never creates a
    session (a cookie-less script would otherwise make one per request).
    """
    if request is None or user is not None or session_key:
        return user, session_key
    if create:
        return shopper(request, create=live_session(request))
    req_user = getattr(request, "user", None)
    return (
        req_user if req_user is not None and req_user.is_authenticated else None,
        shopper_session_id(request, create=False),
    )


def search(
    query: str,
    *,
    filters: SearchFilters | None = None,
    limit: int = 20,
    offset: int = 0,
    request: Any = None,
    user: Any = None,
    session_key: str = "",
    record: bool = True,
) -> SearchResults:
    """One page of hybrid search results; records the search when a shopper is known and ``record``.

    Raises :class:`EmptyQuery` when the query has no searchable words.
    """
    with one_serving_version() as version:
        return _search(query, version, filters, limit, offset, request, user, session_key, record)


def _search(
    query: str,
    version: ModelVersion | None,
    filters: SearchFilters | None,
    limit: int,
    offset: int,
    request: Any,
    user: Any,
    session_key: str,
    record: bool,
) -> SearchResults:
    if version is not None:
        ensure_phrases(version)  # before parsing: the spelling vocabulary comes from the phrases
    parsed = parse_shopper_query(query)  # a query in another language: its English words, raw kept
    if not parsed.positive:
        raise EmptyQuery(gettext("The query has no words to search for."))
    filters = filters or SearchFilters()
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, min(int(offset), MAX_OFFSET))
    record = record and records_events(request)  # a cross-site request records nothing, makes no session
    user, session_key = shopper_of(request, user, session_key, create=record)
    results = SearchResults(query=shown_text(parsed), offset=offset, limit=limit, searched=parsed.corrected)
    if version is not None:
        k = max(int(app_settings.SEARCH_CANDIDATES), offset + limit)
        finish_results(
            results,
            lambda f: retrieve_lists(parsed, f, version, k),
            filters,
            version,
            user,
            session_key,
            explain=lambda hit: text_reason(parsed, hit),
        )
        if parsed.unknown_words or results.total < app_settings.SEARCH_DID_YOU_MEAN_BELOW:
            results.did_you_mean = did_you_mean(parsed, filters, version)
    if record and (request is not None or user is not None or session_key):
        log_search(parsed.raw, results.total, request=request, user=user, session_key=session_key)
        count_search_impressions(results)
    return results


def _facts(got: Retrieved, filters: SearchFilters) -> dict[str, ProductFacts]:
    """ProductFacts of every retrieved product (eligible: passes ``filters``, as rules expect)."""
    return {
        key: ProductFacts(
            key,
            row.title,
            row.category,
            row.price,
            filters.allows(category=row.category, price=row.price, in_stock=row.in_stock, sellable=row.sellable),
            None,
        )
        for key, row in got.facts.items()
    }


def _pool(
    got: Retrieved,
    weights: Mapping[str, float],
    filters: SearchFilters,
    version: ModelVersion,
    with_vectors: bool,
) -> tuple[list[tuple[str, float]], dict[str, ProductFacts], dict]:
    """(fused (key, score) of the eligible products in rank order, their facts, their vectors).

    Vectors (for the profile boost) cost one more query, only for shoppers with a profile.
    """
    fused = reciprocal_rank_fusion(got.lists, weights, float(app_settings.SEARCH_RRF_K))
    facts = _facts(got, filters)
    eligible = [(key, score) for key, score in fused if key in facts and facts[key].eligible]
    vectors = fetch_vectors(version, [key for key, _ in eligible]) if with_vectors else {}
    return eligible, facts, vectors


def _facet_rows(
    retrieve: Retrieve,
    filters: SearchFilters,
    version: ModelVersion,
    weights: Mapping[str, float],
    rules: list[MerchandisingRule],
) -> dict[str, list[ProductFacts]]:
    """For each facet whose own filter is active, the results without that filter (the others kept)."""
    lifted = {}
    if filters.categories:
        lifted["category"] = replace(filters, categories=())
    if filters.min_price is not None or filters.max_price is not None:
        lifted["price"] = replace(filters, min_price=None, max_price=None)
    rows = {}
    for facet, relaxed in lifted.items():
        eligible, facts, _ = _pool(retrieve(relaxed), weights, relaxed, version, with_vectors=False)
        candidates = [Candidate(key, score) for key, score in eligible]
        pinned, ranked = apply_rules(candidates, {c.key: facts[c.key] for c in candidates}, rules)
        rows[facet] = [facts[c.key] for c in pinned + ranked]
    return rows


def finish_results(
    results: SearchResults,
    retrieve: Retrieve,
    filters: SearchFilters,
    version: ModelVersion,
    user: Any,
    session_key: str,
    *,
    weights: Mapping[str, float] | None = None,
    explain: Callable[[SearchHit], str] | None = None,
) -> None:
    """Fuse ``retrieve(filters)``, check eligibility, rerank, apply rules; fill total, facets and hits.

    ``retrieve`` is called again with a facet's own filter lifted, for disjunctive facet counts;
    ``explain`` gives each hit of the page its ``reason``.
    """
    weights = app_settings.SEARCH_WEIGHTS if weights is None else weights
    k = float(app_settings.SEARCH_RRF_K)
    got = retrieve(filters)
    lists = got.lists
    profile = None
    if weights.get("personal", 0) > 0:
        profile = stored_profile(user.pk if user is not None else None, session_key, version)
    eligible, facts, vectors = _pool(got, weights, filters, version, with_vectors=profile is not None)
    scores = dict(eligible)
    pool = [key for key, _ in eligible]
    extra = {}
    if profile is not None:
        extra["personal"] = personal_ranking(pool, vectors, profile)
    if weights.get("popularity", 0) > 0:
        popular = got.derived.get("popularity")  # fetched with the lists, over all their products
        extra["popularity"] = popularity_ranking(pool) if popular is None else [p for p in popular if p[0] in scores]
    for key, bonus in reciprocal_rank_fusion(extra, weights, k):
        scores[key] += bonus
    candidates = [Candidate(key, scores[key]) for key in pool]
    rules = [rule for rule in rules_in_window() if rule.slot in ("", SLOT)]
    pinned, ranked = apply_rules(candidates, {key: facts[key] for key in pool}, rules)
    final = pinned + ranked
    found_by = {name: {key for key, _ in ranking} for name, ranking in lists.items()}
    results.total = len(final)
    results.facets = facets([facts[c.key] for c in final], **_facet_rows(retrieve, filters, version, weights, rules))
    page = final[results.offset : results.offset + results.limit]
    results.hits = [
        SearchHit(
            product_key=c.key,
            score=1e9 if c.score == float("inf") else round(float(c.score), 6),
            position=results.offset + i + 1,
            title=facts[c.key].title,
            category=facts[c.key].category,
            price=facts[c.key].price,
            matched=tuple(name for name, found in found_by.items() if c.key in found),
        )
        for i, c in enumerate(page)
    ]
    if explain is not None:
        results.hits = [replace(hit, reason=explain(hit)) for hit in results.hits]
