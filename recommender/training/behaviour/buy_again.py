"""Learn the shop's buy-again order from its validation days: which purchases come back.

    ranker, info = fit_buy_again(split.valid, data.prices)    # BuyAgainRanker, or None

"Buy again" used to list a shopper's purchases newest first. Which of them a shopper buys again
depends on the shop: groceries come back by habit; on H&M the dearer pieces come back more often
(a size exchange is one likely reason). Each validation shopper with earlier purchases is one choice
among their own products (those bought again in the window are the chosen ones); a conditional
logit over two features, ``log(1 + recency rank)`` and ``log(price)``, learns the order
(:class:`~recommender.behaviour.repurchase.BuyAgainRanker`, which serving applies).

The ranker is kept only when it ranks the re-bought products better than recency on shoppers it
was not fitted on (two folds of the validation shoppers, MAP@12 of their own purchases); with
fewer than ``min_shoppers`` shoppers who bought something again (the behaviour setting
``buy_again_min_shoppers``, default ``MIN_SHOPPERS``), recency stays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from recommender.behaviour.codes import PURCHASE
from recommender.behaviour.config import DEFAULTS
from recommender.behaviour.repurchase import OWN_LAST, BuyAgainRanker, buy_again_features
from recommender.training.behaviour.data import EvalSet
from recommender.training.behaviour.metrics import average_precision_at_k

__all__ = ["MIN_SHOPPERS", "fit_buy_again", "purchase_choices"]

# Shoppers who bought again in the validation window needed to learn anything (the setting's default).
MIN_SHOPPERS = int(DEFAULTS["buy_again_min_shoppers"])
# Gradient descent on the standardised features: enough steps to converge on two weights.
STEPS = 300
LEARNING_RATE = 0.5
L2 = 1e-3
MAP_K = 12

# One shopper's own purchases, newest first, whether each was bought again, and the targets.
Choice = tuple[list[int], list[bool], list[int]]


def purchase_choices(evalset: EvalSet, last: int = OWN_LAST) -> list[Choice]:
    """For each shopper with earlier purchases: (their newest ``last`` distinct purchases, newest
    first; which of them are among the targets; the targets)."""
    out = []
    for row, history in enumerate(evalset.histories):
        kinds = evalset.types[row] if evalset.types is not None else [PURCHASE] * len(history)
        bought = [item for item, kind in zip(history, kinds, strict=True) if kind == PURCHASE]
        newest = list(dict.fromkeys(reversed(bought)))[:last]
        if newest:
            targets = set(evalset.targets[row])
            out.append((newest, [item in targets for item in newest], list(evalset.targets[row])))
    return out


def _price(prices: np.ndarray | None, item: int) -> float | None:
    return None if prices is None else float(prices[item])


def _design(choices: list[Choice], prices: np.ndarray | None, default: float) -> np.ndarray:
    rows = [
        buy_again_features(rank, _price(prices, item), default)
        for items, _, _ in choices
        for rank, item in enumerate(items)
    ]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def _fit(choices: list[Choice], prices: np.ndarray | None, default: float) -> BuyAgainRanker:
    """The conditional logit's weights in the features' own units (standardised while fitting)."""
    x = _design(choices, prices, default)
    sizes = np.array([len(items) for items, _, _ in choices])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group = np.repeat(np.arange(len(choices)), sizes)
    chosen = np.concatenate([np.asarray(flags, dtype=np.float64) for _, flags, _ in choices])
    target = chosen / np.add.reduceat(chosen, starts)[group]
    mean, spread = x.mean(axis=0), x.std(axis=0)
    usable = spread > 1e-9
    z = np.where(usable, (x - mean) / np.where(usable, spread, 1.0), 0.0)
    w = np.zeros(2)
    for _ in range(STEPS):
        s = z @ w
        e = np.exp(s - np.maximum.reduceat(s, starts)[group])
        p = e / np.add.reduceat(e, starts)[group]
        w -= LEARNING_RATE * (z.T @ (p - target) / len(choices) + L2 * w)
    raw = np.where(usable, w / np.where(usable, spread, 1.0), 0.0)
    return BuyAgainRanker(float(raw[0]), float(raw[1]), default)


def _map(choices: list[Choice], ranker: BuyAgainRanker | None, prices: np.ndarray | None) -> float:
    """Mean AP@12 of each shopper's own purchases in the ranker's order (recency without one)."""
    total = 0.0
    for items, _, targets in choices:
        ranked = items if ranker is None else ranker.order(items, {item: _price(prices, item) for item in items})
        total += average_precision_at_k(ranked, targets, MAP_K)
    return total / max(len(choices), 1)


def fit_buy_again(
    evalset: EvalSet, prices: np.ndarray | None, *, min_shoppers: int = MIN_SHOPPERS
) -> tuple[BuyAgainRanker | None, dict[str, Any]]:
    """The buy-again ranker learned on ``evalset`` (``prices``: per item index, NaN unknown), or None
    when too few shoppers bought again or it does not beat recency on held-out shoppers; and a
    report of how it was decided (stored with the version's metrics)."""
    choices = [c for c in purchase_choices(evalset) if any(c[1]) and len(c[0]) > 1]
    info: dict[str, Any] = {"features": ["log1p(recency rank)", "log(price)"], "shoppers": len(choices)}
    if len(choices) < min_shoppers:
        return None, {**info, "used": False, "reason": f"fewer than {min_shoppers} shoppers bought again"}
    # The mean log price of the purchases that have one: what a product without a price counts as.
    logs = [buy_again_features(0, _price(prices, i), math.nan)[1] for items, _, _ in choices for i in items]
    known = [v for v in logs if not math.isnan(v)]
    default = float(np.mean(known)) if known else 0.0
    folds = [choices[0::2], choices[1::2]]
    held_out = [_map(folds[1 - i], _fit(folds[i], prices, default), prices) for i in range(2)]
    ranked = (held_out[0] * len(folds[1]) + held_out[1] * len(folds[0])) / len(choices)
    recency = _map(choices, None, prices)
    info.update({"recency_map@12": round(recency, 6), "held_out_map@12": round(ranked, 6)})
    if not ranked > recency:
        return None, {**info, "used": False, "reason": "no better than recency on held-out shoppers"}
    ranker = _fit(choices, prices, default)
    return ranker, {**info, "used": True, **ranker.to_dict()}
