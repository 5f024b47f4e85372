"""The vector lists: the query's CLIP text vector against product text and fused vectors (pgvector).

    vector = query_vector(version, parsed.dense_text)        # None when the encoder cannot load
    pending = query_vector_soon(version, parsed.dense_text)  # a Future (encoding in the background) or None
    dense_statement(vector, version, filters, column="text_embedding", k=200)   # for fetch_lists
    dense_ranking(vector, version, filters, column="text_embedding", k=200)     # run it alone

Queries are encoded by the version's ONNX query encoder when it was exported (no torch in the
web process; :mod:`recommender.query_encoders`), else by its torch encoder. Query vectors are
cached twice: in this process (an LRU of ``CACHE_SIZE``) and in Django's cache for
``QUERY_VECTOR_CACHE_SECONDS``, shared by every web process, so the popular head of a shop's
queries ("black dress", typed by many shoppers, or paged through) is encoded once per version,
whatever encoder serves queries. The key is the encoder version (the row's pk and the weights'
``encoder_version``: vectors of another model live in another space) and the normalised text the
encoder sees. When the encoder is unavailable (no model files on a web server, say), search goes
on with the lexical lists and logs why.

A query this process has not encoded is encoded on a background thread
(:func:`query_vector_soon`, ``SEARCH_ENCODE_CONCURRENTLY``) while the request thread sends the
lexical lists: onnxruntime and the wait on Postgres both release the GIL, so on two cores the
encoding (about 3 ms) costs the search nothing (``bench/results/search_latency.md``). The thread
touches no database connection.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from threading import Lock

import numpy as np
from django.core.cache import cache

from recommender.conf import app_settings
from recommender.models import ModelVersion
from recommender.query_encoders import query_encoder_for
from recommender.search.filters import SearchFilters
from recommender.search.retrieval import Statement, fetch_lists
from recommender.storage import hnsw_settings, nearest_statement

__all__ = ["dense_ranking", "dense_statement", "query_vector", "query_vector_key", "query_vector_soon"]

logger = logging.getLogger(__name__)

# Enough for the popular head of a shop's queries; 384-d float32 vectors are 1.5 kB each.
CACHE_SIZE = 2048
# The shared copy outlives a deploy's restarts; a new version gets new keys anyway.
QUERY_VECTOR_CACHE_SECONDS = 24 * 3600
# Background encodings at once per process: one per concurrent search of a threaded worker,
# beyond which a search waits for a free thread (the encoder itself runs QUERY_ENCODER_THREADS).
ENCODING_THREADS = 2
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_lock = Lock()
_pool: ThreadPoolExecutor | None = None


def query_vector_key(version: ModelVersion, text: str) -> str:
    """The cache key of ``text``'s vector under ``version`` (pk, encoder weights, text digest)."""
    weights = str((version.config or {}).get("encoder_version", ""))
    digest = hashlib.sha1(f"{weights}\0{text}".encode()).hexdigest()
    return f"recommender:search:qvec:{int(version.pk)}:{digest}"


def _remembered(key: str) -> np.ndarray | None:
    """The vector under ``key`` in this process's LRU, or None."""
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    return None


def query_vector(version: ModelVersion, text: str) -> np.ndarray | None:
    """The encoder's text vector of ``text`` for ``version``, or None when it cannot be computed."""
    if not text:
        return None
    key = query_vector_key(version, text)
    remembered = _remembered(key)
    if remembered is not None:
        return remembered
    shared = cache.get(key)
    if isinstance(shared, bytes) and len(shared) == 4 * int(version.dimensions or 0):
        vector = np.frombuffer(shared, dtype=np.float32)
    else:
        try:
            vector = np.asarray(query_encoder_for(version).encode_texts([text])[0], dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - lexical search must survive a missing model
            logger.warning("Search without vectors: the encoder of %s is unavailable (%s)", version, exc)
            return None
        cache.set(key, vector.tobytes(), QUERY_VECTOR_CACHE_SECONDS)
    with _lock:
        _cache[key] = vector
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return vector


def query_vector_soon(version: ModelVersion, text: str) -> Future[np.ndarray | None] | None:
    """:func:`query_vector` computed on a background thread, so the caller can send other statements
    meanwhile; None when there is nothing to wait for (no text, a vector this process remembers, or
    ``SEARCH_ENCODE_CONCURRENTLY`` off): then :func:`query_vector` answers at once. ``result()``
    raises what ``query_vector`` would."""
    if (
        not text
        or not app_settings.SEARCH_ENCODE_CONCURRENTLY
        or _remembered(query_vector_key(version, text)) is not None
    ):
        return None
    return _encoding_pool().submit(query_vector, version, text)


def _encoding_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(ENCODING_THREADS, thread_name_prefix="recommender-query-encoding")
        return _pool


def _forget_pool_in_child() -> None:
    """A forked worker (``gunicorn --preload``, Celery prefork) gets no threads of its parent's pool."""
    global _pool, _lock
    _pool = None
    _lock = Lock()


os.register_at_fork(after_in_child=_forget_pool_in_child)


def dense_statement(
    vector: np.ndarray,
    version: ModelVersion,
    filters: SearchFilters,
    *,
    column: str,
    k: int,
    min_similarity: float = -1.0,
    margin: float | None = None,
) -> Statement:
    """Nearest products by cosine similarity in ``column``, as a SELECT of (product_key, similarity).

    Products below ``min_similarity``, or more than ``margin`` below the best match, are left out:
    a text model finds every garment somewhat similar to "skirt"; only the close ones are results.
    Run it with ``storage.hnsw_settings()``.
    """
    sql, params = nearest_statement(vector, version=version, k=k, column=column, filters=filters.vector_filter())
    floor = "GREATEST(%s, best - %s)" if margin is not None else "%s"
    cut = [float(min_similarity), float(margin)] if margin is not None else [float(min_similarity)]
    # relaxed_order iterative scans may return neighbours slightly out of order: sorted again,
    # equal similarities (colour variants with one description) keeping the index's order.
    statement = (
        "SELECT product_key, similarity FROM (SELECT n.product_key, n.similarity, "
        "max(n.similarity) OVER () AS best, row_number() OVER () AS found "
        f"FROM ({sql}) AS n) AS scored WHERE similarity >= {floor} ORDER BY similarity DESC, found"
    )
    return statement, [*params, *cut]


def dense_ranking(
    vector: np.ndarray | None,
    version: ModelVersion,
    filters: SearchFilters,
    *,
    column: str,
    k: int,
    min_similarity: float = -1.0,
    margin: float | None = None,
) -> list[tuple[str, float]]:
    """:func:`dense_statement`'s rows as (key, similarity), best first (one round trip)."""
    if vector is None:
        return []
    statement = dense_statement(
        vector, version, filters, column=column, k=k, min_similarity=min_similarity, margin=margin
    )
    return fetch_lists({column: statement}, version, hnsw_settings()).lists[column]
