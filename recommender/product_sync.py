"""Keep the denormalised filter fields of stored vectors in step with the catalog.

Stock, price and category change far more often than images and texts; refreshing them
needs no encoder, so it is a separate, cheap step (``recommender.sync_product_fields``).
Cached recommendations hold those products: when a filter field really changes, the
catalogue generation is bumped after commit, so no cached result serves a sold-out product
for the rest of its lifetime. A count that moves from 5 to 4 changes nothing stored and keeps
the cache.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from recommender.cache import bump_catalogue_generation
from recommender.catalog import get_adapter
from recommender.models import ProductVector

# The stored fields that filters, rules and reasons read; a change to any of them changes results.
FILTER_FIELDS = ("title", "category", "price", "in_stock", "sellable")
FilterValues = tuple[str, str, Decimal | None, bool, bool]
# The price column keeps 4 decimal places: compare at that precision, or a float price would
# always look changed.
PRICE_PLACES = Decimal("0.0001")


def filter_values(product: Any, sellable: bool) -> FilterValues:
    """A product's filter fields as they are stored (titles and categories cut to their columns)."""
    adapter = get_adapter()
    return (
        adapter.title(product)[:300],
        adapter.category(product)[:200],
        _stored_price(adapter.price(product)),
        adapter.in_stock(product),
        sellable,
    )


def _stored_price(price: Decimal | None) -> Decimal | None:
    if price is None:
        return None
    try:
        return price.quantize(PRICE_PLACES)
    except InvalidOperation:  # too many digits for the column: the write reports it, not this
        return price


def changed_keys(values: Mapping[str, Sequence[Any]]) -> set[str]:
    """Keys with a stored row (any version) whose filter fields differ from ``values``."""
    rows = ProductVector.objects.filter(product_key__in=list(values)).values_list("product_key", *FILTER_FIELDS)
    return {key for key, *stored in rows if tuple(stored) != tuple(values[key])}


def forget_cached_results() -> None:
    """Bump the catalogue generation once the current transaction commits (at once outside one)."""
    transaction.on_commit(bump_catalogue_generation)


def sync_product_fields(keys: Sequence[str]) -> int:
    """Copy title, category, price, stock and sellability into every stored row of ``keys``.

    Returns the number of rows updated (rows already up to date are not written); products
    that no longer exist are left to the delete path.
    """
    adapter = get_adapter()
    products = adapter.products_by_keys(list(keys))
    if not products:
        return 0
    sellable = adapter.sellable_keys([adapter.key(p) for p in products])
    values = {adapter.key(p): filter_values(p, adapter.key(p) in sellable) for p in products}
    updated = 0
    with transaction.atomic():
        changed = changed_keys(values)
        for key in sorted(changed):
            updated += ProductVector.objects.filter(product_key=key).update(**dict(zip(FILTER_FIELDS, values[key])))
        if changed:
            forget_cached_results()
    return updated
