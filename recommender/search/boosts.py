"""Rerank lists over the fused candidates: the shopper's profile and recent popularity.

    personal_ranking(keys, vectors, profile)      # candidates by cosine to the profile vector
    popularity_ranking(keys)                      # candidates by recent clicks and purchases

They only reorder what the retrieval lists found (a popular product that does not match the
query is never added) and enter the fusion with small weights (``SEARCH_WEIGHTS["personal"]``,
``["popularity"]``), so they break near-ties rather than override relevance. A user who opted
out of personalisation has no stored profile to boost with (``stored_profile`` returns None).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from django.db import connection
from django.utils import timezone

from recommender.models import Event, EventType, ModelVersion, Profile
from recommender.privacy import personalisation_enabled

__all__ = ["personal_ranking", "popularity_ranking", "popularity_statement", "stored_profile"]

# Popularity looks at the last month: long enough for small shops, short enough to follow trends.
POPULARITY_DAYS = 30
POPULAR_EVENTS = (EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE)


def stored_profile(user_id: Any, session_key: str, version: ModelVersion) -> np.ndarray | None:
    """The shopper's stored profile vector (never built here: search must stay fast).

    None for a user who opted out of personalisation, even if a profile row survived a race.
    """
    if (user_id is None and not session_key) or not personalisation_enabled(user_id):
        return None
    owner = {"user_id": user_id} if user_id is not None else {"user__isnull": True, "session_key": session_key}
    vector = Profile.objects.filter(version=version, **owner).values_list("vector", flat=True).first()
    return None if vector is None else np.asarray(vector, dtype=np.float32)


def personal_ranking(
    keys: Sequence[str], vectors: Mapping[str, np.ndarray], profile: np.ndarray | None
) -> list[tuple[str, float]]:
    """Candidates with a vector, by cosine similarity to ``profile``."""
    if profile is None:
        return []
    norm = float(np.linalg.norm(profile)) or 1.0
    scored = [(key, float(np.dot(vectors[key], profile)) / norm) for key in keys if key in vectors]
    return sorted(scored, key=lambda item: -item[1])


def popularity_statement(keys_sql: str, keys_params: Sequence[Any] = ()) -> tuple[str, list]:
    """:func:`popularity_ranking` of the products ``keys_sql`` selects, as one SELECT of
    (product_key, score), most popular first (ties by key): for ``retrieval.fetch_lists``, where
    ``keys_sql`` selects the listed products, and for :func:`popularity_ranking`."""
    since = timezone.now() - timedelta(days=POPULARITY_DAYS)
    sql = (
        "SELECT product_key, score FROM ("
        f"SELECT product_key, (count(*) + 2 * count(*) FILTER (WHERE type = %s))::float8 AS score "
        f"FROM {Event._meta.db_table} WHERE product_key IN ({keys_sql}) AND type = ANY(%s) AND created_at >= %s "
        "GROUP BY product_key) AS popular ORDER BY score DESC, product_key"
    )
    return sql, [EventType.PURCHASE.value, *keys_params, [str(t.value) for t in POPULAR_EVENTS], since]


def popularity_ranking(keys: Sequence[str]) -> list[tuple[str, float]]:
    """Candidates with recent clicks, adds to cart or purchases (purchases count 3x), most first.

    The keys are bound as one array: the ORM's ``product_key__in`` prepared each of the few
    hundred keys separately, a fifth of a search's Python time on H&M (issue 18).
    """
    if not keys:
        return []
    sql, params = popularity_statement("SELECT unnest(%s::varchar[])", [list(keys)])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(key, float(score)) for key, score in cursor.fetchall()]
