"""What a search returns: ranked hits of one page, the total, facets and a spelling suggestion.

results = search("maroon pullover", limit=20)
results.total, results.did_you_mean, results.facets["category"]
hit = results.hits[0]; hit.position, hit.reason   # 1, 'Matches “maroon pullover” in the category'
for product in results.products():      # host products of this page, each with .search_hit
    ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from recommender.catalog import get_adapter

__all__ = ["SearchHit", "SearchResults"]


@dataclass(frozen=True)
class SearchHit:
    product_key: str
    score: float
    position: int
    title: str = ""
    category: str = ""
    price: Decimal | None = None
    # Which ranked lists found the product ("fulltext", "text_vector", ...): for explanations.
    matched: tuple[str, ...] = ()
    # Why it is shown, for people ("Matches “black dress” in the title"): see ``reasons.py``.
    reason: str = ""


@dataclass
class SearchResults:
    query: str
    hits: list[SearchHit] = field(default_factory=list)
    total: int = 0
    offset: int = 0
    limit: int = 20
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    did_you_mean: str | None = None
    # The query after spelling correction (what was searched); equal to ``query`` when none.
    searched: str = ""
    strategy: str = "search"

    def __iter__(self):
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def keys(self) -> list[str]:
        return [hit.product_key for hit in self.hits]

    @property
    def next_offset(self) -> int | None:
        end = self.offset + len(self.hits)
        return end if end < self.total else None

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None

    def products(self) -> list[Any]:
        """The host's products of this page in order, each with a ``search_hit`` attribute."""
        by_key = {hit.product_key: hit for hit in self.hits}
        adapter = get_adapter()
        products = adapter.products_by_keys(self.keys)
        for product in products:
            product.search_hit = by_key[adapter.key(product)]
        return products
