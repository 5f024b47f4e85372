"""The one entry point for recommendations: strategy → eligibility → rules → diversity → cache.

    recs = recommend("similar", product_key="42", limit=8)
    recs = recommend("for_you", request=request, slot="home", record_impression=True)
    for product in recs.products():      # host products, in order, each with .recommendation
        ...

Template tags and the REST API both call this, so they show the same thing. Results are
cached per (strategy, product, shopper, global and catalogue generations, version, options),
where the shopper part is the shopper's generation for personal strategies (any of their events
makes the entry unreachable), nothing for the product strategies (similar, bought together, also
viewed: one entry serves every shopper; each shopper's purchases are dropped from it as it is
served, from a few spare results computed for that) and the set of products they bought for
trending (shared by every shopper who bought the same, usually nothing); a rule/settings/model change bumps the global
generation, a stock/price/category/sellability change the catalogue one. A cached result is
also re-checked against stock and sellability before it is served, so a product that sold out a
moment ago is never shown, whatever the cache holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from recommender.behaviour.purchase_policy import excludes_purchased
from recommender.cache import cached, catalogue_generation, global_generation, shopper_generation
from recommender.catalog import get_adapter
from recommender.diversity import diversity_lambda, mmr
from recommender.events import clean_text, shopper
from recommender.experiments.assignment import PREVIEW_PARAMETER, VariantChoice, choose_variant
from recommender.experiments.exposure import record_exposure
from recommender.impressions import count_impressions
from recommender.memo import remembered
from recommender.models import MerchandisingRule, ModelVersion, RecommenderSettings
from recommender.rules import apply_rules, eligible, pin_candidates, rules_in_window, servable_keys
from recommender.shoppers import ShopperFacts, shopper_facts
from recommender.strategies import PERSONAL_STRATEGIES, PRODUCT_STRATEGIES, STRATEGIES, Candidate, Context
from recommender.strategies.similar import similar_options
from recommender.versions import serving_versions

MAX_LIMIT = 100


def product_slot_spare(limit: int) -> int:
    """Extra results a shopper-independent product slot computes, so that a shopper's purchases
    (dropped as it is served) rarely leave it short: half the limit, at least 4."""
    return max(4, limit // 2)


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
    variant: str = ""  # the experiment variant served ("" outside experiments)

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
    preview_variant: str | None = None,
) -> Recommendations:
    """Recommendations of ``strategy`` for a product and/or shopper (see module docstring).

    When a running experiment covers ``slot``, the shopper's variant replaces the strategy and
    its parameters (``experiments/assignment.py``); ``preview_variant`` (else ``?rec_variant=``
    on a staff ``request``) forces one for staff and raises ``UnknownVariant`` for a bad name.
    """
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
    choice = _variant(slot, request, user_id, session_key, preview_variant)
    if choice is not None:
        strategy, limit, categories = _apply_variant(choice, strategy, limit, categories, product_key)
    settings = RecommenderSettings.get()
    # Read once per page, however many slots it renders (recommender.memo).
    version, behaviour = remembered(request, "serving_versions", serving_versions)
    has_shopper = user_id is not None or bool(session_key)

    @cache
    def facts() -> ShopperFacts:  # opt-out and purchases: one read per call (or page)
        return remembered(request, ("shopper", user_id, session_key), lambda: shopper_facts(user_id, session_key))

    def opted_in() -> bool:
        return facts().personalised

    bought: tuple[str, ...] = ()
    if (
        strategy != "recently_viewed"
        and has_shopper
        and remembered(request, "excludes_purchased", lambda: excludes_purchased(settings, behaviour))
    ):
        # Opted out: results must not depend on the shopper's history, not even by exclusion.
        bought = facts().bought
    product_side = strategy in PRODUCT_STRATEGIES
    if strategy in PERSONAL_STRATEGIES:
        shopper_part: tuple = (user_id, session_key, shopper_generation(user_id, session_key))
    elif product_side:
        # About the product only: one entry for every shopper (their purchases go as it is served).
        shopper_part = ("any shopper",)
    else:
        # Trending depends on the shopper only through what they bought: one entry serves every
        # shopper with the same purchases (most have none), and a page view (which records an
        # event) does not invalidate it.
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
        # Cached slots never mix experiment variants.
        choice.cache_part if choice is not None else (),
    )

    def compute() -> list[Recommendation]:
        exclude = {product_key} if product_key else set()
        exclude |= {str(k) for k in exclude_keys if k}
        if not product_side:
            exclude |= set(bought)
        ctx = Context(
            version=version,
            limit=min(limit + product_slot_spare(limit), MAX_LIMIT) if product_side else limit,
            product_key=product_key,
            user_id=user_id,
            session_key=session_key,
            categories=tuple(categories),
            exclude_categories=tuple(exclude_categories),
            exclude_keys=exclude,
            slot=slot,
            # Known once per page with a request, and for the personal strategies, which always
            # ask; else the strategy asks when it needs to.
            personalisation=opted_in()
            if has_shopper and (request is not None or strategy in PERSONAL_STRATEGIES)
            else None,
            # Their newest events too, for the personal strategies: read in the same statement.
            shopper=facts() if has_shopper and strategy in PERSONAL_STRATEGIES else None,
            # A variant's own (pinned, or False: off); else the active one, read with the encoder (False: none).
            behaviour=choice.behaviour if choice is not None and choice.behaviour is not None else (behaviour or False),
        )
        if strategy in PRODUCT_STRATEGIES and not product_key:
            return []
        rules: list[MerchandisingRule] = []
        if choice is None or choice.use_rules:
            window = remembered(request, "rules", rules_in_window)
            rules = [rule for rule in window if rule.slot in ("", slot)]
        return _finish(STRATEGIES[strategy](ctx), ctx, settings, rules, choice)

    items = cached(key_parts, compute, settings.cache_seconds, revalidate=lambda hit: still_servable(version, hit))
    if product_side:
        items = without_keys(items, set(bought), limit)
    result = Recommendations(strategy, slot, list(items), choice.variant_name if choice is not None else "")
    if record_impression and result.items:
        count_impressions(request, slot or strategy, strategy, len(result.items))
        if choice is not None:
            record_exposure(choice, slot, user_id=user_id, session_key=session_key, products=len(result.items))
    return result


def _variant(slot: str, request: Any, user_id: Any, session_key: str, preview: str | None) -> VariantChoice | None:
    """The experiment variant for this slot and shopper; previews only for staff requests."""
    requester = getattr(request, "user", None)
    may_preview = preview is not None or bool(getattr(requester, "is_staff", False))
    if preview is None and request is not None:
        preview = str(getattr(request, "GET", {}).get(PREVIEW_PARAMETER, ""))
    return choose_variant(
        slot, user_id=user_id, session_key=session_key, preview=preview or "", may_preview=may_preview
    )


def _apply_variant(
    choice: VariantChoice, strategy: str, limit: int, categories: Sequence[str], product_key: str
) -> tuple[str, int, Sequence[str]]:
    """The variant's strategy, limit and categories in place of the slot's own."""
    wanted = choice.strategy or strategy
    if wanted in PRODUCT_STRATEGIES and not product_key:
        wanted = strategy  # a product strategy on a page without a product would leave the slot empty
    if choice.limit:
        limit = max(1, min(int(choice.limit), MAX_LIMIT))
    return wanted, limit, (choice.categories or categories)


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


def without_keys(items: list[Recommendation], drop: set[str], limit: int) -> list[Recommendation]:
    """The first ``limit`` of ``items`` not in ``drop``, positions renumbered when any went."""
    kept = [item for item in items if item.product_key not in drop][:limit]
    if len(kept) == len(items):
        return items
    return [item if item.position == i + 1 else replace(item, position=i + 1) for i, item in enumerate(kept)]


def _finish(
    candidates: list[Candidate],
    ctx: Context,
    settings: RecommenderSettings,
    rules: list[MerchandisingRule],
    choice: VariantChoice | None = None,
) -> list[Recommendation]:
    facts = ctx.facts([c.key for c in candidates] + pin_candidates(rules))
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
    diversity = diversity_lambda(settings.diversity_lambda, ctx.measured_diversity)
    if choice is not None and choice.diversity_lambda is not None:
        diversity = choice.diversity_lambda
    picked = mmr(ranked, vectors, ctx.limit - len(pinned), diversity)
    final = pinned + picked
    return [Recommendation(c.key, _finite(c.score), c.reason, i + 1) for i, c in enumerate(final)]


def _finite(score: float) -> float:
    return 1e9 if score == float("inf") else round(float(score), 6)
