"""Similar products: nearest neighbours of the product's own vector.

The image vector serves "looks like this" (same type and colour); products without an image
fall back to their fused vector.
"""

from __future__ import annotations

import numpy as np

from recommender.models import ProductVector
from recommender.storage import VectorFilter, nearest
from recommender.strategies.base import Candidate, Context


def product_vector(ctx: Context, column: str) -> tuple[np.ndarray | None, str]:
    """The product's vector in ``column`` (None when missing) and its title."""
    row = ProductVector.objects.filter(version=ctx.version, product_key=ctx.product_key).values_list(column, "title").first()
    if row is None:
        return None, ""
    return (None if row[0] is None else np.asarray(row[0], dtype=np.float32)), row[1]


def similar(ctx: Context, column: str = "image_embedding") -> list[Candidate]:
    if ctx.version is None or not ctx.product_key:
        return []
    vector, title = product_vector(ctx, column)
    if vector is None and column != "embedding":
        column = "embedding"
        vector, title = product_vector(ctx, column)
    if vector is None:
        return []
    flt = VectorFilter(
        categories=ctx.categories,
        exclude_categories=ctx.exclude_categories,
        exclude_keys=sorted(ctx.exclude_keys | {ctx.product_key}),
    )
    hits = nearest(vector, version=ctx.version, k=ctx.fetch, column=column, filters=flt)
    reason = f"Similar to {title}" if title else "Similar product"
    return [Candidate(key, score, reason) for key, score in hits]
