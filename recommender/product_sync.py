"""Keep the denormalised filter fields of stored vectors in step with the catalog.

Stock, price and category change far more often than images and texts; refreshing them
needs no encoder, so it is a separate, cheap step (``recommender.sync_product_fields``).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from recommender.catalog import get_adapter
from recommender.models import ProductVector


def sync_product_fields(keys: Sequence[str]) -> int:
    """Copy title, category, price, stock and sellability into every stored row of ``keys``.

    Returns the number of rows updated; products that no longer exist are left to the
    delete path.
    """
    adapter = get_adapter()
    products = adapter.products_by_keys(list(keys))
    if not products:
        return 0
    sellable = adapter.sellable_keys([adapter.key(p) for p in products])
    updated = 0
    with transaction.atomic():
        for product in products:
            key = adapter.key(product)
            updated += ProductVector.objects.filter(product_key=key).update(
                title=adapter.title(product)[:300],
                category=adapter.category(product)[:200],
                price=adapter.price(product),
                in_stock=adapter.in_stock(product),
                sellable=key in sellable,
            )
    return updated
