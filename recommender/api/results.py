"""Recommendations → response rows: each item joined with the catalog's title, price, category, URL.

The catalog adapter is the only reader of host products, so the API shows what the template
tags show. Products deleted after they were ranked (results are cached) are left out.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.urls import NoReverseMatch

from recommender.catalog import get_adapter
from recommender.recommend import Recommendations

logger = logging.getLogger(__name__)


def result_rows(recs: Recommendations) -> list[dict[str, Any]]:
    """One dict per recommended product that still exists, in rank order."""
    adapter = get_adapter()
    products = {adapter.key(p): p for p in adapter.products_by_keys(recs.keys)}
    rows = []
    for item in recs.items:
        product = products.get(item.product_key)
        if product is None:
            continue
        price = adapter.price(product)
        rows.append(
            {
                "product_id": item.product_key,
                # Strict JSON has no NaN/Infinity; a score that is not finite ranks nothing.
                "score": item.score if math.isfinite(item.score) else 0.0,
                "reason": item.reason,
                "position": item.position,
                "title": adapter.title(product),
                "price": None if price is None else str(price),
                "category": adapter.category(product),
                "url": product_url(product),
            }
        )
    return rows


def product_url(product: Any) -> str | None:
    """``get_absolute_url()`` when the model has one; a URL that does not reverse is logged, not raised."""
    get_url = getattr(product, "get_absolute_url", None)
    if not callable(get_url):
        return None
    try:
        return str(get_url())
    except NoReverseMatch:
        logger.warning("get_absolute_url() of product %s does not reverse", product.pk, exc_info=True)
        return None
