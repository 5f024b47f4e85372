"""Search filters, applied inside every ranked list's query (never after a top-k cut).

    filters = SearchFilters(categories=("Dress",), max_price=Decimal("50"))
    filters.rows(version)          # ProductVector queryset for the SQL lists (full text, trigram)
    filters.vector_filter()        # the same conditions for pgvector's nearest()

Eligibility is the recommendations' (sellable and in stock); ``in_stock=False`` also lets
sold-out products through, for shops that show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext

from recommender.models import ModelVersion, ProductVector
from recommender.storage import VectorFilter

__all__ = ["MAX_PRICE", "FilterError", "SearchFilters", "parse_price"]

# The largest price the filters accept: the stored price column's (12 digits, 4 of them decimals).
# Postgres refuses a comparison with a larger numeric (1e999999 overflows), so it never gets one.
MAX_PRICE = Decimal("99999999.9999")


class FilterError(ValueError):
    """A filter value that cannot be used; ``field`` names the parameter, ``message`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_price(value: Any, field: str = "price") -> Decimal | None:
    """A price filter from text (None when blank); raises :class:`FilterError` for anything else
    than a finite number from 0 to ``MAX_PRICE`` ("1e999999", "inf", "NaN", "-5", "cheap")."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        number = Decimal(text[:64])
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or not 0 <= number <= MAX_PRICE:
        raise FilterError(
            field,
            gettext("%(value)r is not a price: use a number from 0 to %(max)s.")
            % {"value": text[:20], "max": f"{MAX_PRICE:,}"},
        )
    return number


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
            in_stock=self.in_stock,
            sellable=True,
            categories=self.categories,
            min_price=self.min_price,
            max_price=self.max_price,
            exclude_keys=exclude_keys,
        )

    def allows(self, *, category: str, price: Decimal | None, in_stock: bool, sellable: bool) -> bool:
        """The same test in Python, for rows loaded by key (pins, stale candidates)."""
        if not sellable or (self.in_stock and not in_stock):
            return False
        if self.categories and category not in self.categories:
            return False
        if self.min_price is not None and (price is None or price < self.min_price):
            return False
        return not (self.max_price is not None and (price is None or price > self.max_price))
