"""Similar products: nearest neighbours of the product's own vectors.

``RECOMMENDER["SIMILAR_VECTOR"]`` says what "similar" means: ``"image+text"`` (the default: the
weighted mean of the image and the text cosine, so a black dress brings dresses, not every
black garment), ``"image"`` (looks like: colour and shape, the choice of shops that want
"looks like this"), ``"text"`` or ``"fused"`` (the stored fused vector). A product lacking the
vector asked for falls back to the ones it has, then to its fused vector. bench/similar_quality.py
measured the choices on H&M.
"""

from __future__ import annotations

import numpy as np
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext

from recommender.conf import app_settings
from recommender.models import ProductVector
from recommender.storage import VectorFilter, nearest, nearest_blend
from recommender.strategies.base import Candidate, Context

__all__ = ["SIMILAR_VECTORS", "product_vector", "similar", "similar_options"]

# SIMILAR_VECTOR value -> the stored columns it compares.
SIMILAR_VECTORS: dict[str, tuple[str, ...]] = {
    "image": ("image_embedding",),
    "text": ("text_embedding",),
    "fused": ("embedding",),
    "image+text": ("image_embedding", "text_embedding"),
}


def similar_options() -> tuple[str, float]:
    """The configured (SIMILAR_VECTOR, SIMILAR_IMAGE_WEIGHT), validated; also part of the cache key."""
    choice = app_settings.SIMILAR_VECTOR
    if choice not in SIMILAR_VECTORS:
        raise ImproperlyConfigured(
            f"RECOMMENDER['SIMILAR_VECTOR'] = {choice!r} is not one of {', '.join(map(repr, SIMILAR_VECTORS))}."
        )
    weight = app_settings.SIMILAR_IMAGE_WEIGHT
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= float(weight) <= 1.0:
        raise ImproperlyConfigured(f"RECOMMENDER['SIMILAR_IMAGE_WEIGHT'] = {weight!r} must be a number from 0 to 1.")
    return choice, float(weight)


def product_vector(ctx: Context, column: str) -> tuple[np.ndarray | None, str]:
    """The product's vector in ``column`` (None when missing) and its title."""
    vectors, title = _product_vectors(ctx, (column,))
    return vectors.get(column), title


def _product_vectors(ctx: Context, columns: tuple[str, ...]) -> tuple[dict[str, np.ndarray], str]:
    """The product's non-null vectors among ``columns`` and its title, in one query."""
    row = (
        ProductVector.objects.filter(version=ctx.version, product_key=ctx.product_key)
        .values_list(*columns, "title")
        .first()
    )
    if row is None:
        return {}, ""
    vectors = {
        column: np.asarray(value, dtype=np.float32) for column, value in zip(columns, row[:-1]) if value is not None
    }
    return vectors, row[-1]


def similar(ctx: Context) -> list[Candidate]:
    if ctx.version is None or not ctx.product_key:
        return []
    choice, image_weight = similar_options()
    wanted = SIMILAR_VECTORS[choice]
    vectors, title = _product_vectors(ctx, tuple(dict.fromkeys((*wanted, "embedding"))))
    flt = VectorFilter(
        categories=ctx.categories,
        exclude_categories=ctx.exclude_categories,
        exclude_keys=sorted(ctx.exclude_keys | {ctx.product_key}),
    )
    weights = {"image_embedding": image_weight, "text_embedding": 1.0 - image_weight}
    parts = [(column, vectors[column], weights.get(column, 1.0)) for column in wanted if column in vectors]
    parts = [part for part in parts if part[2] > 0] or parts[:1]
    if not parts and "embedding" in vectors:
        parts = [("embedding", vectors["embedding"], 1.0)]
    if not parts:
        return []
    if len(parts) == 1:
        column, vector, _ = parts[0]
        hits = nearest(vector, version=ctx.version, k=ctx.fetch, column=column, filters=flt)
    else:
        hits = nearest_blend(parts, version=ctx.version, k=ctx.fetch, filters=flt)
    reason = gettext("Similar to %(title)s") % {"title": title} if title else gettext("Similar product")
    return [Candidate(key, score, reason) for key, score in hits]
