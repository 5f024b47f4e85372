"""Search filters, applied inside every ranked list's query (never after a top-k cut).

    filters = SearchFilters(categories=("Dress",), max_price=Decimal("50"))
    filters.rows(version)          # ProductVector queryset for the SQL lists (full text, trigram)
    filters.vector_filter()        # the same conditions for pgvector's nearest()

Eligibility is the recommendations' (sellable and in stock); ``in_stock=False`` also lets
sold-out products through, for shops that show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from recommender.models import ModelVersion, ProductVector
from recommender.storage import VectorFilter

__all__ = ["SearchFilters"]


@dataclass(frozen=True)
class SearchFilters:
    categories: tuple[str, ...] = ()
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool = True

    def rows(self, version: ModelVersion) -> QuerySet[ProductVector]:
        """Rows of ``version`` that pass the filters and eligibility."""
        qs = ProductVector.objects.filter(version=version, sellable=True).exclude(status=ProductVector.Status.FAILED)
        if self.in_stock:
            qs = qs.filter(in_stock=True)
        if self.categories:
            qs = qs.filter(category__in=list(self.categories))
        if self.min_price is not None:
            qs = qs.filter(price__gte=self.min_price)
        if self.max_price is not None:
            qs = qs.filter(price__lte=self.max_price)
        return qs

    def vector_filter(self, exclude_keys: tuple[str, ...] = ()) -> VectorFilter:
        return VectorFilter(
            in_stock=self.in_stock, sellable=True, categories=self.categories, min_price=self.min_price,
            max_price=self.max_price, exclude_keys=exclude_keys,
        )  # fmt: skip

    def allows(self, *, category: str, price: Decimal | None, in_stock: bool, sellable: bool) -> bool:
        """The same test in Python, for rows loaded by key (pins, stale candidates)."""
        if not sellable or (self.in_stock and not in_stock):
            return False
        if self.categories and category not in self.categories:
            return False
        if self.min_price is not None and (price is None or price < self.min_price):
            return False
        return not (self.max_price is not None and (price is None or price > self.max_price))
