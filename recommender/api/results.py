"""Recommendations → response rows: each item joined with the catalog's title, price, category, URL.

The catalog adapter is the only reader of host products, so the API shows what the template
tags show. Products deleted after they were ranked (results are cached) are left out.
"""

from __future__ import annotations

import math
from typing import Any

from recommender.catalog import get_adapter
from recommender.recommend import Recommendations


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
    """The adapter's URL of the product (FIELDS["url"], else ``get_absolute_url()``); None when it has none."""
    return get_adapter().url(product)
