"""Merchandising rules and eligibility, applied to any strategy's candidates.

Eligibility comes from the denormalised fields of the serving version's vector rows (in stock,
sellable, category, price), so every strategy — vector or count based — obeys the same rules.
Rules from the admin: *exclude* drops matches, *boost* / *bury* multiply the score by
``1 + strength`` / ``1 / (1 + strength)``, *pin* puts matching products on top (ordered by
strength, highest first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext

from recommender.cache import PREFIX, global_generation
from recommender.models import MerchandisingRule, ModelVersion, ProductVector
from recommender.product_facts import ProductFacts
from recommender.strategies.base import Candidate

# Pinned products never number more than this per slot, whatever the rules say.
MAX_PINS = 4


# The enabled rules stay cached this long at most; any save, delete or bulk enable/disable of a
# rule bumps the global generation, which names a fresh entry.
RULES_CACHE_SECONDS = 300


def rules_in_window(at: datetime | None = None) -> list[MerchandisingRule]:
    """Enabled rules in their date window, whatever their slot.

    Every search and slot needs them: the enabled rules come from the cache, under the global
    generation (one query per change instead of one per request), and the window is checked
    here at ``at`` (default now), so a rule still starts and ends on time.
    """
    key = f"{PREFIX}:rules:{global_generation()}"
    enabled = cache.get(key)
    if enabled is None:
        enabled = list(MerchandisingRule.objects.filter(enabled=True))
        cache.set(key, enabled, RULES_CACHE_SECONDS)
    at = at or timezone.now()
    return [rule for rule in enabled if rule.is_live(at)]


def servable_keys(version: ModelVersion | None, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are in stock and sellable in ``version`` now: what a cached result is
    re-checked against before it is served, so it runs on every cache hit. One SQL statement
    with the keys as one array (measured 0.4 ms p50 against 2.8 ms for the same ORM query)."""
    if version is None or not keys:
        return set()
    sql = (
        f"SELECT product_key FROM {ProductVector._meta.db_table} "
        "WHERE version_id = %s AND product_key = ANY(%s) AND in_stock AND sellable"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [version.pk, list(keys)])
        return {key for (key,) in cursor.fetchall()}


def rule_matches(rule: MerchandisingRule, facts: ProductFacts) -> bool:
    if rule.target == MerchandisingRule.Target.PRODUCT:
        return facts.key == rule.product_key
    if rule.target == MerchandisingRule.Target.CATEGORY:
        return facts.category == rule.category
    if facts.price is None:
        return False
    low_ok = rule.min_price is None or facts.price >= rule.min_price
    high_ok = rule.max_price is None or facts.price <= rule.max_price
    return low_ok and high_ok


def eligible(
    candidates: Sequence[Candidate],
    facts: dict[str, ProductFacts],
    *,
    categories: Sequence[str] = (),
    exclude_categories: Sequence[str] = (),
    exclude_keys: set[str] = frozenset(),
) -> list[Candidate]:
    """Candidates that are known, sellable, in stock and pass the category filters."""
    out = []
    for c in candidates:
        f = facts.get(c.key)
        if f is None or not f.eligible or c.key in exclude_keys:
            continue
        if categories and f.category not in categories:
            continue
        if exclude_categories and f.category in exclude_categories:
            continue
        out.append(c)
    return out


def apply_rules(
    candidates: list[Candidate], facts: dict[str, ProductFacts], rules: Sequence[MerchandisingRule]
) -> tuple[list[Candidate], list[Candidate]]:
    """(pinned, ranked): exclusions dropped, boosts and buries applied, pins split off."""
    excludes = [r for r in rules if r.action == MerchandisingRule.Action.EXCLUDE]
    weights = [r for r in rules if r.action in (MerchandisingRule.Action.BOOST, MerchandisingRule.Action.BURY)]
    ranked = []
    for c in candidates:
        f = facts.get(c.key)
        if f is None or any(rule_matches(r, f) for r in excludes):
            continue
        score = c.score
        for r in weights:
            if rule_matches(r, f):
                factor = 1.0 + max(r.strength, 0.0)
                score = score * factor if r.action == MerchandisingRule.Action.BOOST else score / factor
        ranked.append(replace(c, score=score))
    ranked.sort(key=lambda c: -c.score)
    pinned = []
    for rule in sorted((r for r in rules if r.action == MerchandisingRule.Action.PIN), key=lambda r: -r.strength):
        for key, f in facts.items():
            if rule_matches(rule, f) and f.eligible and key not in {p.key for p in pinned}:
                if any(rule_matches(x, f) for x in excludes):
                    continue
                pinned.append(Candidate(key, float("inf"), gettext("Featured")))
    pinned = pinned[:MAX_PINS]
    pinned_keys = {p.key for p in pinned}
    return pinned, [c for c in ranked if c.key not in pinned_keys]


def pin_candidates(rules: Sequence[MerchandisingRule]) -> list[str]:
    """Product keys that product-targeted pin rules name (so their facts get loaded too)."""
    return [r.product_key for r in rules if r.action == MerchandisingRule.Action.PIN and r.product_key]
