"""The learned "Buy again" order: which of a shopper's purchases come back (recency and price).

The ranker is fitted on validation shoppers, applied the same way offline (``Repurchase.own``)
and when serving (``behaviour.serving.own_purchases``); the served-equals-offline check with a
ranker in effect is in tests/test_served_evaluation.py.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from recommender.behaviour.codes import EVENT_TYPES
from recommender.behaviour.repurchase import BuyAgainRanker, own_purchase_scores
from recommender.training.behaviour.baselines import Repurchase
from recommender.training.behaviour.buy_again import fit_buy_again, purchase_choices
from recommender.training.behaviour.data import EvalSet

BUY, VIEW = EVENT_TYPES["purchase"], EVENT_TYPES["view"]


def test_ranker_orders_by_its_score_and_keeps_recency_on_ties():
    prices_first = BuyAgainRanker(recency_weight=0.0, price_weight=1.0, default_log_price=math.log(15))
    # newest first: a (10), b (40), c (no price: 15), d (40)
    order = prices_first.order(["a", "b", "c", "d"], {"a": 10.0, "b": 40.0, "d": 40.0})
    assert order == ["b", "d", "c", "a"]  # b and d tie: b is the newer
    newest_first = BuyAgainRanker(recency_weight=-1.0, price_weight=0.0, default_log_price=0.0)
    assert newest_first.order(["a", "b", "c"], {"c": 99.0}) == ["a", "b", "c"]
    # the scores the weight is tuned with: 0.9 ** rank in the ranker's order
    scores = own_purchase_scores(["a", "b"], ranker=prices_first, prices={"a": 50.0, "b": 10.0})
    assert scores == pytest.approx({"a": 1.0, "b": 0.9})
    assert own_purchase_scores(["a", "b"]) == pytest.approx({"b": 1.0, "a": 0.9})


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "x",
        {},
        {"recency_weight": 1, "price_weight": "y", "default_log_price": 0},
        {"recency_weight": math.inf, "price_weight": 0, "default_log_price": 0},
    ],
)
def test_a_stored_ranker_that_is_not_three_finite_numbers_is_none(raw):
    assert BuyAgainRanker.from_dict(raw) is None


def test_a_stored_ranker_round_trips():
    ranker = BuyAgainRanker(-0.25, 0.5, 3.0)
    assert BuyAgainRanker.from_dict(ranker.to_dict()) == ranker


def test_offline_own_scores_follow_the_ranker_with_unknown_prices_at_the_default():
    prices = np.array([10.0, 80.0, np.nan, 20.0])
    ranker = BuyAgainRanker(0.0, 1.0, math.log(30))
    # bought 0, 1, 3, viewed 2: by price 1 (80), 3 (20), 0 (10)
    own = Repurchase(np.ones(4), ranker=ranker, prices=prices).own([[0, 1, 2, 3]], [[BUY, BUY, VIEW, BUY]])[0]
    assert own.tolist() == pytest.approx([0.81, 1.0, 0.0, 0.9])
    # an unknown price counts as the default (30): above 20 and 10
    own = Repurchase(np.ones(4), ranker=ranker, prices=prices).own([[0, 2, 3]])[0]
    assert own.tolist() == pytest.approx([0.81, 0.0, 1.0, 0.9])


def _shoppers(n: int, rebuy, seed: int = 0) -> tuple[EvalSet, np.ndarray]:
    """``n`` shoppers with 5 purchases each (items priced 5..100); each re-buys ``rebuy(items,
    prices)`` of their own and buys one new item in the validation window."""
    rng = np.random.default_rng(seed)
    prices = rng.uniform(5, 100, size=200)
    histories, targets = [], []
    for _ in range(n):
        items = rng.choice(200, size=5, replace=False).tolist()
        histories.append(items)
        targets.append([rebuy(items, prices), int(rng.integers(200))])
    return EvalSet(histories, targets, None), prices


def test_the_ranker_learns_that_the_dearest_purchase_comes_back():
    evalset, prices = _shoppers(120, lambda items, prices: max(items, key=lambda i: prices[i]))
    ranker, info = fit_buy_again(evalset, prices)
    assert ranker is not None and info["used"] is True
    assert ranker.price_weight > 0
    assert info["held_out_map@12"] > info["recency_map@12"]
    # it puts the dearest purchase first for a shopper it never saw
    fresh, _ = _shoppers(1, lambda items, prices: items[0], seed=9)
    history = fresh.histories[0]
    order = ranker.order(list(reversed(history)), {i: float(prices[i]) for i in history})
    assert order[0] == max(history, key=lambda i: prices[i])


def test_recency_stays_when_the_newest_purchase_is_what_comes_back():
    # newest first is already right: nothing learned beats it on held-out shoppers
    evalset, prices = _shoppers(120, lambda items, prices: items[-1])
    ranker, info = fit_buy_again(evalset, prices)
    assert ranker is None and info["used"] is False
    assert info["recency_map@12"] >= info["held_out_map@12"]


def test_too_few_shoppers_who_bought_again_keep_recency():
    evalset, prices = _shoppers(12, lambda items, prices: max(items, key=lambda i: prices[i]))
    ranker, info = fit_buy_again(evalset, prices, min_shoppers=30)
    assert ranker is None and info == {**info, "used": False, "shoppers": 12}
    assert "fewer than 30" in info["reason"]


def test_choices_are_each_shoppers_distinct_purchases_newest_first():
    evalset = EvalSet([[1, 2, 1, 3], [4]], [[1, 9], [7]], [[BUY, BUY, BUY, VIEW], [VIEW]])
    # the second shopper bought nothing: no choice; the viewed 3 is not a purchase
    assert purchase_choices(evalset) == [([1, 2], [True, False], [1, 9])]


@pytest.mark.django_db
def test_served_own_purchases_rank_with_the_prices_of_the_encoder_version(vector_shop):
    """Serving reads each purchased product's stored price in one statement and orders the
    purchases as the offline scorer does with the same prices."""
    from recommender.behaviour.serving import own_purchases
    from recommender.models import Event, ProductVector
    from recommender.versions import serving_version

    version = serving_version()
    stored = dict(ProductVector.objects.filter(version=version).values_list("product_key", "price"))
    keys = sorted(stored, key=lambda k: stored[k])[:4]  # the four cheapest, cheapest first
    day = datetime(2020, 9, 1, 12, tzinfo=UTC)
    Event.objects.bulk_create(
        [
            Event(type="purchase", session_key="s-1", product_key=key, created_at=day + timedelta(hours=i))
            for i, key in enumerate(reversed(keys))  # bought dearest first: the cheapest is the newest
        ]
        + [Event(type="purchase", session_key="s-1", product_key="gone", created_at=day)]  # no stored row
    )
    ranker = BuyAgainRanker(recency_weight=0.0, price_weight=1.0, default_log_price=0.0)
    served = own_purchases(None, "s-1", ranker=ranker, price_version=version)
    assert sorted(served, key=served.get, reverse=True) == [*reversed(keys), "gone"]
    bought = [e.product_key for e in Event.objects.filter(session_key="s-1").order_by("created_at", "pk")]
    expected = own_purchase_scores(bought, ranker=ranker, prices={k: float(v) for k, v in stored.items()})
    assert served == pytest.approx(expected)
    # without a ranker: newest first, as before
    plain = own_purchases(None, "s-1")
    assert max(plain, key=plain.get) == keys[0]
