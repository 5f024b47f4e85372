"""Materialise the suggestion table from the query log and the catalog (beat, or on first use).

    refresh_suggestions()      # rebuild SuggestionPhrase; returns counts per kind
    add_catalog_phrases(version, keys)   # add these products' words, names and category (a batch)
    ensure_phrases(version)    # ask for a first build when the table is empty (cheap check, cached)

Kinds:
- ``query``: logged queries that led to a click or purchase, were searched by at least the
  admin's privacy threshold of distinct shoppers (accounts or network addresses, by their salted
  ``client_hash``; re-checked when serving) and that moderation allows
  (``recommender.search.moderation``: the admin's list, URL/e-mail/phone patterns); popularity is a
  recency-weighted count (half-life ``QUERY_HALF_LIFE_DAYS``; a click adds one, a purchase two)
  and ``related`` lists the queries searched by the same sessions.
- ``product``: product titles; ``category``: categories and, when ``SEARCH_FACET_ATTRIBUTES``
  names a colour, "colour category" phrases ("black dress"); popularity = products carrying it.
- ``term``: every word of the product texts with its document frequency: the spelling vocabulary.

Only sellable, in-stock products of the serving version contribute. The rebuild runs in one
transaction, so readers see the old table until the new one is complete, and is followed by a
``VACUUM ANALYZE`` of the table so that keystrokes do not wade through replaced rows.

The catalog is the vocabulary's source, so it is built when the catalog is indexed, before any
search (``recommender/receivers.py`` listens to ``recommender.signals``): every embedded batch
adds its products' words and names (:func:`add_catalog_phrases`; existing rows keep their counts
until the next rebuild), and a finished reindex or an activated version rebuilds everything.
Beat's ``recommender.refresh_suggestions`` keeps counts and logged queries current.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from recommender.catalog import get_adapter
from recommender.conf import app_settings
from recommender.models import ModelVersion, ProductVector, RecommenderSettings, SearchQuery
from recommender.models.suggestions import SuggestionPhrase
from recommender.search.moderation import moderation
from recommender.search.normalize import normalize_query, tokenize
from recommender.search.vocabulary import vocabulary_changed
from recommender.signals import vocabulary_missing
from recommender.vacuum import vacuum_analyze
from recommender.versions import serving_version

__all__ = ["add_catalog_phrases", "ensure_phrases", "refresh_suggestions"]

logger = logging.getLogger(__name__)

# A query searched a month ago counts half as much as one searched today.
QUERY_HALF_LIFE_DAYS = 30.0
# Related searches kept per query; a pair must share this many sessions to count.
MAX_RELATED = 8
MIN_SHARED_SESSIONS = 2
# Colour × category phrases need this many products, so they lead somewhere.
MIN_PHRASE_PRODUCTS = 2
COLOUR_ATTRIBUTES = ("colour", "color")
MAX_PHRASE_LENGTH = 200
BATCH = 2000
READY_CACHE_SECONDS = 300
BUILD_LOCK_SECONDS = 600


def refresh_suggestions() -> dict[str, int]:
    """Rebuild every suggestion phrase; returns how many of each kind were written."""
    now = timezone.now()
    phrases: list[SuggestionPhrase] = []
    version = serving_version()
    if version is not None:
        phrases += _catalog_phrases(version, now)
    phrases += _query_phrases(now)
    unique = list({(p.kind, p.normalized): p for p in phrases}.values())
    with transaction.atomic():
        # Upsert rather than delete-all: unchanged keys become HOT updates, with no new index entries.
        for start in range(0, len(unique), BATCH):
            SuggestionPhrase.objects.bulk_create(
                unique[start : start + BATCH],
                update_conflicts=True,
                unique_fields=["kind", "normalized"],
                update_fields=["text", "popularity", "sessions", "related", "last_seen", "updated_at"],
            )
        SuggestionPhrase.objects.filter(updated_at__lt=now).delete()
    vocabulary_changed()
    vacuum_analyze(SuggestionPhrase)
    counts = Counter(p.kind for p in unique)
    logger.info("Suggestion phrases rebuilt: %s", dict(counts))
    return {kind: counts.get(kind, 0) for kind in SuggestionPhrase.Kind.values}


def add_catalog_phrases(version: ModelVersion, keys: list[str]) -> int:
    """Add the words, names and category of these products (sellable, in stock, in ``version``)
    to the suggestion table; rows that exist keep their counts. Returns the rows added."""
    now = timezone.now()
    phrases = _catalog_phrases(version, now, keys=keys)
    unique = sorted({(p.kind, p.normalized): p for p in phrases}.items())  # one lock order: no deadlocks
    if not unique:
        return 0
    created = SuggestionPhrase.objects.bulk_create([p for _, p in unique], ignore_conflicts=True)
    vocabulary_changed()
    return len(created)


def ensure_phrases(version: ModelVersion) -> None:
    """Ask for a first build when no vocabulary exists yet (checked at most every few minutes)."""
    flag = f"recommender:search:phrases-ready:{version.pk}"
    if cache.get(flag):
        return
    if SuggestionPhrase.objects.filter(kind=SuggestionPhrase.Kind.TERM).exists():
        cache.set(flag, True, READY_CACHE_SECONDS)
        return
    if not cache.add(f"recommender:search:phrases-building:{version.pk}", True, BUILD_LOCK_SECONDS):
        return
    vocabulary_missing.send(sender=ModelVersion, version=version)


def _phrase(kind: str, text: str, popularity: float, now: Any, **fields: Any) -> SuggestionPhrase | None:
    normalized = normalize_query(text)
    if not normalized or len(normalized) > MAX_PHRASE_LENGTH:
        return None
    return SuggestionPhrase(
        kind=kind,
        text=text[:MAX_PHRASE_LENGTH],
        normalized=normalized,
        popularity=float(popularity),
        updated_at=now,
        **fields,
    )


def _catalog_phrases(version: ModelVersion, now: Any, keys: list[str] | None = None) -> list[SuggestionPhrase]:
    """Phrases of the whole catalog, or of the products ``keys`` (then without colour phrases,
    which need counts over the catalog)."""
    products = ProductVector.objects.filter(version=version, sellable=True, in_stock=True)
    if keys is not None:
        products = products.filter(product_key__in=keys)
    rows = list(
        products.exclude(status=ProductVector.Status.FAILED).values_list("product_key", "title", "category", "document")
    )
    titles: Counter[str] = Counter()
    title_text: dict[str, str] = {}
    categories: Counter[str] = Counter()
    terms: Counter[str] = Counter()
    for _key, title, category, document in rows:
        if title:
            titles[normalize_query(title)] += 1
            title_text.setdefault(normalize_query(title), title)
        if category:
            categories[category] += 1
        terms.update(set(tokenize(f"{title} {category} {document}")))
    out = [_phrase(SuggestionPhrase.Kind.PRODUCT, title_text[t], n, now) for t, n in titles.items()]
    out += [_phrase(SuggestionPhrase.Kind.CATEGORY, c, n, now) for c, n in categories.items()]
    colour_phrases = _colour_categories(rows).items() if keys is None else ()
    out += [
        _phrase(SuggestionPhrase.Kind.CATEGORY, text, n, now) for text, n in colour_phrases if n >= MIN_PHRASE_PRODUCTS
    ]
    out += [_phrase(SuggestionPhrase.Kind.TERM, word, n, now) for word, n in terms.items() if len(word) >= 2]
    return [p for p in out if p is not None]


def _colour_categories(rows: list[tuple]) -> Counter[str]:
    """ "colour category" phrases, when the host names a colour attribute among the facets."""
    attributes = app_settings.SEARCH_FACET_ATTRIBUTES or {}
    path = next((attributes[name] for name in COLOUR_ATTRIBUTES if name in attributes), None)
    if not path or not rows:
        return Counter()
    from recommender.search.facets import product_attribute

    adapter = get_adapter()
    category_of = {key: category for key, _title, category, _doc in rows}
    out: Counter[str] = Counter()
    for product in adapter.products_by_keys(list(category_of)):
        colour = product_attribute(product, path)
        category = category_of.get(adapter.key(product), "")
        if colour and category:
            out[f"{str(colour).lower()} {category.lower()}"] += 1
    return out


def _query_phrases(now: Any) -> list[SuggestionPhrase]:
    """Logged queries above the privacy threshold that led to a click or purchase, if moderation allows."""
    since = now - timedelta(days=int(app_settings.SEARCH_LOG_DAYS))
    min_sessions = max(1, int(RecommenderSettings.get().suggestion_min_sessions))
    table = SearchQuery._meta.db_table
    sql = f"""
        SELECT normalized, count(DISTINCT client_hash) AS sessions,
               sum(power(0.5, extract(epoch FROM %s - created_at) / %s)
                   * (1 + clicked::int + 2 * purchased::int)) AS popularity,
               max(created_at) AS last_seen
        FROM {table}
        WHERE created_at >= %s AND client_hash <> '' AND normalized <> ''
          AND length(normalized) <= %s
        GROUP BY normalized
        HAVING count(DISTINCT client_hash) >= %s AND bool_or(clicked OR purchased)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, QUERY_HALF_LIFE_DAYS * 86400.0, since, MAX_PHRASE_LENGTH, min_sessions])
        rules = moderation()
        rows = [row for row in cursor.fetchall() if rules.allows(row[0])]
    related = _related([r[0] for r in rows], since)
    out = []
    for normalized, sessions, popularity, last_seen in rows:
        phrase = _phrase(
            SuggestionPhrase.Kind.QUERY,
            normalized,
            popularity,
            now,
            sessions=sessions,
            last_seen=last_seen,
            related=related.get(normalized, []),
        )
        if phrase is not None:
            out.append(phrase)
    return out


def _related(queries: list[str], since: Any) -> dict[str, list[str]]:
    """For each query, the others searched by the most of the same sessions (co-occurrence)."""
    if len(queries) < 2:
        return {}
    table = SearchQuery._meta.db_table
    sql = f"""
        WITH q AS (
            SELECT DISTINCT session_hash, normalized FROM {table}
            WHERE created_at >= %s AND session_hash <> '' AND normalized = ANY(%s)
        )
        SELECT a.normalized, b.normalized, count(*) AS shared
        FROM q a JOIN q b ON a.session_hash = b.session_hash AND a.normalized <> b.normalized
        GROUP BY a.normalized, b.normalized
        HAVING count(*) >= %s
        ORDER BY a.normalized, shared DESC, b.normalized
    """
    out: dict[str, list[str]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, [since, queries, MIN_SHARED_SESSIONS])
        for query, other, _shared in cursor.fetchall():
            if len(out[query]) < MAX_RELATED:
                out[query].append(other)
    return dict(out)
