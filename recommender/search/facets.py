"""Facet counts over a search's results: category, price ranges, and host attributes (colour…).

    facets(rows)   # {"category": [{"value": "Dress", "count": 12}, ...],
                   #  "price": [{"min": 0, "max": 25, "count": 3}, ...], "colour": [...]}
    facets(rows, category=rows_without_the_category_filter, price=rows_without_the_price_filter)

Counts cover every result (not just the page), after filters and rules. Facets are disjunctive:
a facet whose own filter is active counts the rows searched without it (``category=``,
``price=``; the engine retrieves them), so selecting one category still shows the others'
counts. Category and price come from the vector rows; other facets
(``SEARCH_FACET_ATTRIBUTES = {"colour": "colour"}``) have no filter of their own and read the
named attribute of the result rows' host products through the catalog adapter, in one query.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist

from recommender.catalog import get_adapter
from recommender.conf import app_settings
from recommender.product_facts import ProductFacts

__all__ = ["facets", "price_ranges", "product_attribute"]

# Most shops show a handful of values per facet; the rest is noise in a side panel.
MAX_VALUES = 20


def price_ranges(bounds: Sequence[float | int | Decimal]) -> list[tuple[Decimal, Decimal | None]]:
    """[(0, b1), (b1, b2), ..., (bn, None)] from ascending upper bounds."""
    edges = [Decimal(0), *sorted(Decimal(str(b)) for b in bounds)]
    return [(low, edges[i + 1] if i + 1 < len(edges) else None) for i, low in enumerate(edges)]


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def facets(
    rows: Sequence[ProductFacts],
    *,
    category: Sequence[ProductFacts] | None = None,
    price: Sequence[ProductFacts] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Facet counts of ``rows``; ``category`` / ``price`` are the rows those facets count instead."""
    categories = Counter(f.category for f in (rows if category is None else category) if f.category)
    out: dict[str, list[dict[str, Any]]] = {
        "category": [{"value": v, "count": n} for v, n in categories.most_common(MAX_VALUES)],
        "price": [],
    }
    priced = rows if price is None else price
    for low, high in price_ranges(app_settings.SEARCH_PRICE_RANGES):
        count = sum(1 for f in priced if f.price is not None and f.price >= low and (high is None or f.price < high))
        if count:
            out["price"].append({"min": _number(low), "max": _number(high), "count": count})
    attributes = app_settings.SEARCH_FACET_ATTRIBUTES or {}
    if attributes and rows:
        out.update(_attribute_facets([f.key for f in rows], attributes))
    return out


def _attribute_facets(keys: list[str], attributes: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Counts of each attribute over the products ``keys``: database fields read as plain values
    in one query (building a model instance per result was a sixth of a search's time on H&M),
    other attributes (properties, methods) from the loaded products."""
    adapter = get_adapter()
    out: dict[str, list[dict[str, Any]]] = {}
    if all(_is_value_field(adapter.model, path) for path in attributes.values()):
        lookups = [path.replace(".", "__") for path in attributes.values()]
        pks = _pks(adapter, keys)
        found = {row[0]: row[1:] for row in _by_pks(adapter, pks).values_list("pk", *lookups)}
        rows = [found[pk] for pk in dict.fromkeys(pks) if pk in found]  # in result order: ties count as before
        columns = {name: [row[i] for row in rows] for i, name in enumerate(attributes)}
    else:
        products = adapter.products_by_keys(keys)
        columns = {name: [product_attribute(p, path) for p in products] for name, path in attributes.items()}
    for name, values in columns.items():
        counts = Counter(str(v) for v in values if v not in (None, ""))
        out[name] = [{"value": v, "count": n} for v, n in counts.most_common(MAX_VALUES)]
    return out


def _is_value_field(model: Any, path: str) -> bool:
    """Whether ``path`` ("colour", "brand.name") follows relations to a plain (non-relation) field,
    so that the database gives the same value ``product_attribute`` would."""
    parts = path.split(".")
    for i, part in enumerate(parts):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        last = i == len(parts) - 1
        if field.is_relation != (not last) or (not last and (field.many_to_many or field.one_to_many)):
            return False
        model = field.related_model if not last else model
    return getattr(field, "concrete", False)


def _by_pks(adapter: Any, pks: list[Any]) -> Any:
    """The adapter's products with these primary keys, the keys bound as one array (``pk__in``
    prepared each of a search's few hundred keys separately, issue 18), unordered: the host
    model's default ordering sorted every result row for nothing."""
    meta = adapter.model._meta
    column = f'"{meta.db_table}"."{meta.pk.column}"'
    return adapter.get_queryset().extra(where=[f"{column} = ANY(%s)"], params=[pks]).order_by()


def _pks(adapter: Any, keys: list[str]) -> list[Any]:
    """The host primary keys of ``keys``; malformed keys are unknown products."""
    pks = []
    for key in keys:
        try:
            pks.append(adapter.to_pk(key))
        except Exception:  # noqa: BLE001, S112 - a key the adapter cannot read is no product
            continue
    return pks


def product_attribute(obj: Any, path: str) -> Any:
    """Follow a dotted attribute path ("brand.name"); a missing link gives None."""
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj() if callable(obj) else obj
