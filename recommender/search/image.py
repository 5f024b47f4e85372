"""Search by image: an uploaded photo → products with the nearest image (and fused) vectors.

    results = search_by_image(request.FILES["image"], filters=SearchFilters(max_price=50))

The photo goes through the app's robust loader (``load_image``): an empty, truncated, corrupt
or oversized file raises :class:`ImageSearchError` with a short reason for the shopper. The
image vector is compared with product image vectors and fused vectors, fused by rank like text
search, with the same filters, eligibility and merchandising rules.
"""

from __future__ import annotations

from typing import Any

from recommender.conf import app_settings
from recommender.images import ImageLoadError, load_image
from recommender.search.dense import dense_ranking
from recommender.search.engine import MAX_LIMIT, MAX_OFFSET, finish_results
from recommender.search.filters import SearchFilters
from recommender.search.results import SearchResults
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
    user: Any = None,
    session_key: str = "",
) -> SearchResults:
    """One page of products that look like the image in ``source`` (bytes, file, path)."""
    data = source.read() if hasattr(source, "read") else source
    if isinstance(data, (bytes, bytearray)) and len(data) > int(app_settings.SEARCH_MAX_IMAGE_BYTES):
        raise ImageSearchError(f"image too large: more than {app_settings.SEARCH_MAX_IMAGE_BYTES} bytes")
    try:
        image = load_image(data, max_pixels=int(app_settings.MAX_IMAGE_PIXELS))
    except ImageLoadError as exc:
        raise ImageSearchError(exc.reason) from exc
    version = serving_version()
    if version is None:
        raise SearchUnavailable("No products have been indexed yet.")
    try:
        vector = encoder_for(version).encode_images([image])[0]
    except Exception as exc:  # noqa: BLE001 - any loading failure means the same to the caller
        raise SearchUnavailable(f"The image encoder is unavailable: {exc}") from exc
    filters = filters or SearchFilters()
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, min(int(offset), MAX_OFFSET))
    k = max(int(app_settings.SEARCH_CANDIDATES), offset + limit)
    lists = {
        "image_vector": dense_ranking(vector, version, filters, column="image_embedding", k=k),
        "fused_vector": dense_ranking(vector, version, filters, column="embedding", k=k),
    }
    results = SearchResults(query="", offset=offset, limit=limit)
    weights = {**app_settings.SEARCH_WEIGHTS, **IMAGE_WEIGHTS}
    finish_results(results, lists, filters, version, user, session_key, weights=weights)
    return results
