"""The vector lists: the query's CLIP text vector against product text and fused vectors (pgvector).

    vector = query_vector(version, parsed.dense_text)        # None when the encoder cannot load
    dense_ranking(vector, version, filters, column="text_embedding", k=200)

Queries are encoded by the version's ONNX query encoder when it was exported (no torch in the
web process; :mod:`recommender.query_encoders`), else by its torch encoder. Query vectors are
cached per process (a shopper paging through results, or many shoppers
typing "black dress", cost one encoding). When the encoder is unavailable (no model files on a
web server, say), search goes on with the lexical lists and logs why.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from threading import Lock

import numpy as np

from recommender.models import ModelVersion
from recommender.query_encoders import query_encoder_for
from recommender.search.filters import SearchFilters
from recommender.storage import nearest

__all__ = ["dense_ranking", "query_vector"]

logger = logging.getLogger(__name__)

# Enough for the popular head of a shop's queries; 384-d float32 vectors are 1.5 kB each.
CACHE_SIZE = 2048
_cache: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
_lock = Lock()


def query_vector(version: ModelVersion, text: str) -> np.ndarray | None:
    """The encoder's text vector of ``text`` for ``version``, or None when it cannot be computed."""
    if not text:
        return None
    key = (int(version.pk), text)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    try:
        vector = np.asarray(query_encoder_for(version).encode_texts([text])[0], dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 - lexical search must survive a missing model
        logger.warning("Search without vectors: the encoder of %s is unavailable (%s)", version, exc)
        return None
    with _lock:
        _cache[key] = vector
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return vector


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
    """Nearest products by cosine similarity in ``column``.

    Products below ``min_similarity``, or more than ``margin`` below the best match, are left out:
    a text model finds every garment somewhat similar to "skirt"; only the close ones are results.
    """
    if vector is None:
        return []
    rows = nearest(vector, version=version, k=k, column=column, filters=filters.vector_filter())
    if rows and margin is not None:
        min_similarity = max(min_similarity, rows[0][1] - margin)
    return [(key, sim) for key, sim in rows if sim >= min_similarity]
