"""The one entry point for recommendations: strategy → eligibility → rules → diversity → cache.

    recs = recommend("similar", product_key="42", limit=8)
    recs = recommend("for_you", request=request, slot="home", record_impression=True)
    for product in recs.products():      # host products, in order, each with .recommendation
        ...

Template tags and the REST API both call this, so they show the same thing. Results are
cached per (strategy, product, shopper, global and catalogue generations, version, options),
where the shopper part is the shopper's generation for personal strategies (any of their events
makes the entry unreachable) and the set of products they bought for the others (shared by every
shopper who bought the same, usually nothing); a rule/settings/model change bumps the global
generation, a stock/price/category/sellability change the catalogue one. A cached result is
also re-checked against stock and sellability before it is served, so a product that sold out a
moment ago is never shown, whatever the cache holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from recommender.behaviour.purchase_policy import excludes_purchased
from recommender.cache import cached, catalogue_generation, global_generation, shopper_generation
from recommender.catalog import get_adapter
from recommender.diversity import mmr
from recommender.events import clean_text, shopper
from recommender.models import Event, MerchandisingRule, ModelVersion, RecommenderSettings, SlotStat
from recommender.privacy import personalisation_enabled
from recommender.rules import apply_rules, eligible, pin_candidates, product_facts, servable_keys
from recommender.strategies import PERSONAL_STRATEGIES, PRODUCT_STRATEGIES, STRATEGIES, Candidate, Context
from recommender.strategies.similar import similar_options
from recommender.versions import serving_version

MAX_LIMIT = 100


class UnknownStrategy(ValueError):
    pass


@dataclass(frozen=True)
class Recommendation:
    product_key: str
    score: float
    reason: str
    position: int


@dataclass
class Recommendations:
    strategy: str
    slot: str
    items: list[Recommendation] = field(default_factory=list)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def keys(self) -> list[str]:
        return [item.product_key for item in self.items]

    def products(self) -> list[Any]:
        """The host's product objects in order, each with a ``recommendation`` attribute."""
        by_key = {item.product_key: item for item in self.items}
        adapter = get_adapter()
        products = adapter.products_by_keys(self.keys)
        for product in products:
            product.recommendation = by_key[adapter.key(product)]
        return products


def recommend(
    strategy: str,
    *,
    product_key: str = "",
    request: Any = None,
    user: Any = None,
    session_key: str = "",
    limit: int = 8,
    slot: str = "",
    categories: Sequence[str] = (),
    exclude_categories: Sequence[str] = (),
    exclude_keys: Sequence[str] = (),
    record_impression: bool = False,
) -> Recommendations:
    """Recommendations of ``strategy`` for a product and/or shopper (see module docstring)."""
    if strategy not in STRATEGIES:
        raise UnknownStrategy(f"Unknown strategy {strategy!r}; expected one of {', '.join(sorted(STRATEGIES))}.")
    if request is not None and user is None and not session_key:
        user, session_key = shopper(request, create=False)
    limit = max(1, min(int(limit), MAX_LIMIT))
    product_key = str(product_key or "")
    if "\x00" in product_key:
        product_key = "\ufffd"  # cannot exist in Postgres: an unknown product, not a DataError
    slot = clean_text(slot, 64)
    user_id = user.pk if user is not None else None
    settings = RecommenderSettings.get()
    version = serving_version()
    bought: tuple[str, ...] = ()
    if (
        strategy != "recently_viewed"
        and (user_id is not None or session_key)
        # Opted out: results must not depend on the shopper's history, not even by exclusion.
        and personalisation_enabled(user_id)
        and excludes_purchased(settings)
    ):
        bought = tuple(sorted(Event.objects.of_shopper(user_id, session_key).purchased_keys()))
    if strategy in PERSONAL_STRATEGIES:
        shopper_part: tuple = (user_id, session_key, shopper_generation(user_id, session_key))
    else:
        # Product and popularity slots depend on the shopper only through what they bought: one
        # entry serves every shopper with the same purchases (most have none), and a page view
        # (which records an event) does not invalidate the page's own slots.
        shopper_part = ("bought", bought)
    key_parts = (
        "rec",
        strategy,
        product_key,
        shopper_part,
        global_generation(),
        catalogue_generation(),
        version.pk if version else 0,
        limit,
        slot,
        tuple(categories),
        tuple(exclude_categories),
        tuple(sorted(exclude_keys)),
        # What "similar" compares is a deploy setting: a changed choice must not serve old entries.
        similar_options() if strategy == "similar" else (),
    )

    def compute() -> list[Recommendation]:
        exclude = {product_key} if product_key else set()
        exclude |= {str(k) for k in exclude_keys if k}
        exclude |= set(bought)
        ctx = Context(
            version=version,
            limit=limit,
            product_key=product_key,
            user_id=user_id,
            session_key=session_key,
            categories=tuple(categories),
            exclude_categories=tuple(exclude_categories),
            exclude_keys=exclude,
            slot=slot,
        )
        if strategy in PRODUCT_STRATEGIES and not product_key:
            return []
        return _finish(STRATEGIES[strategy](ctx), ctx, settings)

    items = cached(key_parts, compute, settings.cache_seconds, revalidate=lambda hit: still_servable(version, hit))
    result = Recommendations(strategy, slot, list(items))
    if record_impression and result.items:
        SlotStat.bump(slot or strategy, strategy, impressions=len(result.items))
    return result


def still_servable(version: ModelVersion | None, items: list[Recommendation]) -> list[Recommendation]:
    """A cached result without the products that went out of stock or off sale since it was
    computed (positions renumbered); the catalogue generation refills it on the next miss."""
    if not items:
        return items
    ok = servable_keys(version, [item.product_key for item in items])
    if len(ok) == len(items):
        return items
    kept = [item for item in items if item.product_key in ok]
    return [replace(item, position=i + 1) for i, item in enumerate(kept)]


def _finish(candidates: list[Candidate], ctx: Context, settings: RecommenderSettings) -> list[Recommendation]:
    rules = list(MerchandisingRule.objects.active(ctx.slot))
    facts = product_facts(ctx.version, [c.key for c in candidates] + pin_candidates(rules))
    pool = eligible(
        candidates,
        facts,
        categories=ctx.categories,
        exclude_categories=ctx.exclude_categories,
        exclude_keys=ctx.exclude_keys,
    )
    pinned, ranked = apply_rules(pool, facts, rules)
    pinned = [p for p in pinned if p.key not in ctx.exclude_keys][: ctx.limit]
    vectors = {k: f.vector for k, f in facts.items() if f.vector is not None}
    picked = mmr(ranked, vectors, ctx.limit - len(pinned), settings.diversity_lambda)
    final = pinned + picked
    return [Recommendation(c.key, _finite(c.score), c.reason, i + 1) for i, c in enumerate(final)]


def _finite(score: float) -> float:
    return 1e9 if score == float("inf") else round(float(score), 6)
