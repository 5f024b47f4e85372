"""What filters, rules, diversity and reasons need of a product, read from its vector row at once.

    facts = product_facts(version, ["12", "40"])      # key -> ProductFacts; unknown keys absent

The serving version's rows carry the denormalised filter fields (title, category, price, stock,
sellable) beside the fused vector, so one statement gives every stage after a strategy what it
reads. :class:`~recommender.strategies.base.Context` keeps the facts it read, so a strategy that
needs its candidates' vectors (reasons) and the stages after it (eligibility, rules, MMR) read
each product once per computation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from recommender.models import ModelVersion
from recommender.storage import vector_rows

__all__ = ["FACT_FIELDS", "ProductFacts", "product_facts"]

# The vector row columns read beside the fused vector.
FACT_FIELDS = ("title", "category", "price", "in_stock", "sellable")


@dataclass(frozen=True)
class ProductFacts:
    key: str
    title: str
    category: str
    price: Decimal | None
    eligible: bool
    vector: np.ndarray | None


def product_facts(version: ModelVersion | None, keys: Iterable[str]) -> dict[str, ProductFacts]:
    """Filter fields and fused vectors of ``keys`` in one query (``eligible``: in stock and sellable)."""
    if version is None:
        return {}
    rows = vector_rows(version, keys, FACT_FIELDS, with_vector_only=False)
    return {
        key: ProductFacts(key, title, category, price, bool(stock and sellable), vec)
        for key, (title, category, price, stock, sellable, vec) in rows.items()
    }
