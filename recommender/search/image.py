"""Search by image: an uploaded photo → products with the nearest image (and fused) vectors.

    results = search_by_image(request.FILES["image"], filters=SearchFilters(max_price=50), request=request)

The photo goes through the app's robust loader (``load_image``): an empty, truncated, corrupt,
oversized or too elongated file raises :class:`ImageSearchError` with a short reason for the
shopper, and a large photo is shrunk as soon as it is decoded, so one request's memory is bounded
by ``MAX_IMAGE_PIXELS`` whatever the photo's shape. The image vector is compared with product
image vectors and fused vectors, fused by rank like text search, with the same filters,
eligibility, merchandising rules and disjunctive facets. Like a
text search it is recorded for the shopper (``record=False`` does not): a search event with an
empty query, strategy "image" and the result count (``querylog``).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

from recommender.conf import app_settings
from recommender.events import records_events
from recommender.images import MAX_WORKING_SIDE, ImageLoadError, load_image
from recommender.search.dense import dense_statement
from recommender.search.engine import MAX_LIMIT, MAX_OFFSET, finish_results, shopper_of
from recommender.search.filters import SearchFilters
from recommender.search.querylog import IMAGE, count_search_impressions, log_search
from recommender.search.reasons import IMAGE_REASON
from recommender.search.results import SearchResults
from recommender.search.retrieval import Retrieved, fetch_lists
from recommender.storage import hnsw_settings
from recommender.versions import encoder_for, serving_version

__all__ = ["IMAGE_WEIGHTS", "ImageSearchError", "SearchUnavailable", "search_by_image"]

# The photo's own space first; fused vectors add products whose text agrees with the look.
IMAGE_WEIGHTS = {"image_vector": 1.0, "fused_vector": 0.5}


class ImageSearchError(ValueError):
    """The uploaded file cannot be used; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SearchUnavailable(RuntimeError):
    """No encoder is available to embed the image (nothing indexed yet, or the model is missing)."""


def search_by_image(
    source: Any,
    *,
    filters: SearchFilters | None = None,
    limit: int = 20,
    offset: int = 0,
    request: Any = None,
    user: Any = None,
    session_key: str = "",
    record: bool = True,
) -> SearchResults:
    """One page of products that look like the image in ``source`` (bytes, file, path).

    Records the search when a shopper is known and ``record``; raises :class:`ImageSearchError`
    for an unusable file and :class:`SearchUnavailable` when nothing can embed it.
    """
    max_bytes = int(app_settings.SEARCH_MAX_IMAGE_BYTES)
    too_large = gettext("image too large: more than %(limit)s bytes") % {"limit": max_bytes}
    size = getattr(source, "size", None)  # an upload knows its size: refused before it is read
    if isinstance(size, int) and size > max_bytes:
        raise ImageSearchError(too_large)
    data = source.read() if hasattr(source, "read") else source
    if isinstance(data, (bytes, bytearray)) and len(data) > max_bytes:
        raise ImageSearchError(too_large)
    try:
        image = load_image(
            data,
            max_pixels=int(app_settings.MAX_IMAGE_PIXELS),
            max_aspect_ratio=app_settings.MAX_IMAGE_ASPECT_RATIO,
            max_side=MAX_WORKING_SIDE,
        )
    except ImageLoadError as exc:
        raise ImageSearchError(exc.reason) from exc
    version = serving_version()
    if version is None:
        raise SearchUnavailable(gettext("No products have been indexed yet."))
    try:
        vector = encoder_for(version).encode_images([image])[0]
    except Exception as exc:
        raise SearchUnavailable(f"The image encoder is unavailable: {exc}") from exc
    filters = filters or SearchFilters()
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, min(int(offset), MAX_OFFSET))
    record = record and records_events(request)  # a cross-site request records nothing, makes no session
    user, session_key = shopper_of(request, user, session_key, create=record)
    k = max(int(app_settings.SEARCH_CANDIDATES), offset + limit)

    def retrieve(f: SearchFilters) -> Retrieved:
        statements = {
            "image_vector": dense_statement(vector, version, f, column="image_embedding", k=k),
            "fused_vector": dense_statement(vector, version, f, column="embedding", k=k),
        }
        return fetch_lists(statements, version, hnsw_settings())  # both lists in one round trip

    results = SearchResults(query="", offset=offset, limit=limit)
    weights = {**app_settings.SEARCH_WEIGHTS, **IMAGE_WEIGHTS}
    finish_results(
        results, retrieve, filters, version, user, session_key, weights=weights, explain=lambda hit: str(IMAGE_REASON)
    )
    if record and (request is not None or user is not None or session_key):
        log_search("", results.total, kind=IMAGE, request=request, user=user, session_key=session_key)
        count_search_impressions(results)
    return results
