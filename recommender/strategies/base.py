"""What every strategy returns, and the request it answers.

A strategy turns a :class:`Context` (who is asking, about which product, with which filters)
into scored :class:`Candidate`s with a human reason. Rules, diversity and caching are applied
afterwards by ``recommender.recommend``, the same way for every strategy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from recommender.models import ModelVersion
from recommender.product_facts import ProductFacts, product_facts
from recommender.shoppers import ShopperFacts


@dataclass(frozen=True)
class Candidate:
    """A product a strategy proposes; ``repeat``: the shopper's own product offered again ("Buy
    again"), whose place diversity never changes."""

    key: str
    score: float
    reason: str = ""
    repeat: bool = False


@dataclass
class Context:
    """Everything a strategy may look at; built once per request by ``recommend``."""

    version: ModelVersion | None
    limit: int
    product_key: str = ""
    user_id: Any = None
    session_key: str = ""
    categories: Sequence[str] = ()
    exclude_categories: Sequence[str] = ()
    exclude_keys: set[str] = field(default_factory=set)
    slot: str = ""
    # Whether the shopper may be personalised, when the caller already knows (read once per page).
    personalisation: bool | None = None
    # An experiment variant's behaviour model: None the active one, False off, a version pinned.
    behaviour: Any = None
    # What was read about the shopper for this request (opt-out, purchases, newest events), if it was.
    shopper: ShopperFacts | None = None
    # The diversity λ the strategy's own blend measured on the shop's data (a behaviour version's),
    # set by the strategy; what "auto" diversity uses (``recommender.diversity.diversity_lambda``).
    measured_diversity: float | None = None
    # Product facts read during this computation (see ``facts``), and the keys found to have none.
    known_facts: dict[str, ProductFacts] = field(default_factory=dict, repr=False)
    unknown_keys: set[str] = field(default_factory=set, repr=False)

    @property
    def has_shopper(self) -> bool:
        return self.user_id is not None or bool(self.session_key)

    @cached_property
    def personalised(self) -> bool:
        """A shopper whose history may shape the results (not a user who opted out)."""
        from recommender.privacy import personalisation_enabled

        if not self.has_shopper:
            return False
        return self.personalisation if self.personalisation is not None else personalisation_enabled(self.user_id)

    def facts(self, keys: Iterable[str]) -> dict[str, ProductFacts]:
        """:func:`~recommender.product_facts.product_facts` of ``keys`` in ``version``, each product
        read once per computation: a strategy that reads its candidates' vectors (for reasons)
        leaves them for eligibility, rules and diversity after it, which then read only the rest."""
        keys = list(dict.fromkeys(keys))
        missing = [k for k in keys if k not in self.known_facts and k not in self.unknown_keys]
        if missing:
            found = product_facts(self.version, missing)
            self.known_facts.update(found)
            self.unknown_keys.update(k for k in missing if k not in found)
        return {k: self.known_facts[k] for k in keys if k in self.known_facts}

    @property
    def fetch(self) -> int:
        """How many candidates to fetch so rules and diversity still leave ``limit``."""
        return max(self.limit * 4, 40)
