"""Served = evaluated: "for you" through recommend() scored on a time split, the purchase policy,
and the time-split validation of training.

Uses the conftest ``vector_shop`` (12 products, 4-d vectors) and a tiny model, as
tests/test_behaviour_shop.py does. Shoppers here buy along dress -> coat -> shoes -> bag and
each keeps re-buying one staple, so both parts of the blend have something to find.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from recommender.behaviour.purchase_policy import excludes_purchased, repurchase_rate
from recommender.models import Event, ModelVersion, ProductVector, RecommenderSettings
from recommender.recommend import recommend
from recommender.training.behaviour.served import LEAVE_ONE_OUT, served_evaluation, served_metrics
from recommender.training.behaviour.served_report import served_markdown
from tests.conftest import TINY_BEHAVIOUR

pytestmark = pytest.mark.django_db

CYCLE = ["dress-a", "coat-a", "shoes-a", "bag-a", "dress-b", "coat-b", "shoes-b", "bag-b"]
# Fewer epochs, and a time split from 5 buyers in the window (this shop has 40).
SMALL = {**TINY_BEHAVIOUR, "epochs": 6, "patience": 6, "time_split_min_users": 5}


def _shop_settings(**values) -> None:
    row = RecommenderSettings.get()
    for name, value in values.items():
        setattr(row, name, value)
    row.save()


def _all_in_stock() -> None:
    """Offline ranks the whole catalogue: every product must be servable for the two to agree."""
    from tests.testapp.models import Product

    Product.objects.update(in_stock=True)
    ProductVector.objects.update(in_stock=True)


def _buyers(keys: dict[str, str], cut, shoppers: int = 40, days: int = 8) -> None:
    """Each shopper walks the cycle with a purchase a day, re-buying a staple every third day;
    some days fall after ``cut`` (the targets) and the last day before it (validation)."""
    rng = np.random.default_rng(3)
    rows = []
    for s in range(shoppers):
        first, staple = int(rng.integers(len(CYCLE))), CYCLE[int(rng.integers(len(CYCLE)))]
        last = None
        for day in range(days):
            name = staple if day % 3 == 2 else CYCLE[(first + day) % len(CYCLE)]
            if name == last:
                name = CYCLE[(first + day + 1) % len(CYCLE)]
            last = name
            when = cut - timedelta(days=days - 2 - day, hours=int(rng.integers(1, 20)))
            rows.append(Event(type="purchase", session_key=f"b{s}", product_key=keys[name], created_at=when))
    Event.objects.bulk_create(rows)


def test_served_metrics_are_the_offline_metrics_of_the_lists():
    ranked, targets = [[3, 1, 2], [5, 4]], [[1], [9, 4]]
    out = served_metrics(ranked, targets, k=2)
    assert out["users"] == 2
    assert out["recall@2"] == pytest.approx((1.0 + 0.5) / 2)
    assert out["map@2"] == pytest.approx((0.5 + 0.25) / 2)


def test_served_evaluation_equals_the_offline_blend_and_leaves_nothing_behind(vector_shop, behaviour_settings):
    cut = timezone.now().replace(microsecond=0) - timedelta(days=1)
    _buyers(vector_shop, cut)
    _all_in_stock()
    _shop_settings(diversity_lambda=1.0, exclude_purchased=False)  # the blend's order, purchases kept
    events, versions = Event.objects.count(), ModelVersion.objects.count()

    report = served_evaluation(cut, baselines=True)

    assert report["version"]["validation"]["protocol"] == "time split"
    assert report["shoppers"] == 40 and report["behaviour_model"] == "trained and served"
    served, offline = report["all"]["served for you"], report["all"]["offline blend (same version)"]
    assert served["map@12"] > 0
    assert served == offline  # to the last digit: the same blend, ranked the same way
    assert report["new"]["served for you"] == report["new"]["offline blend (same version)"]
    assert {"own purchases, then popularity", "item co-occurrence kNN", "ALS (implicit)"} <= set(report["all"])
    assert "served for you, diversity off" not in report["all"]  # the shop serves relevance alone already
    # rolled back: no version, no event lost, the settings as they were, no artifact left
    assert Event.objects.count() == events and ModelVersion.objects.count() == versions
    assert RecommenderSettings.get().cache_seconds == 300
    assert not any(behaviour_settings.glob("behaviour-*")) if behaviour_settings.exists() else True


def served_at_a_cut(fill, diversity_lambda: float) -> dict:
    """``fill(cut)`` the shop's events around a cut a day ago, every product in stock, purchases
    kept in "for you", then the served evaluation at the cut (no baselines)."""
    cut = timezone.now().replace(microsecond=0) - timedelta(days=1)
    fill(cut)
    _all_in_stock()
    _shop_settings(diversity_lambda=diversity_lambda, exclude_purchased=False)
    return served_evaluation(cut, baselines=False)


def test_served_evaluation_shows_what_the_shops_diversity_costs(vector_shop, behaviour_settings):
    report = served_at_a_cut(lambda cut: _buyers(vector_shop, cut), diversity_lambda=0.3)

    assert report["diversity_lambda"] == 0.3
    off, offline = report["all"]["served for you, diversity off"], report["all"]["offline blend (same version)"]
    assert off == offline  # relevance alone: the blend's own order, to the last digit
    assert report["new"]["served for you, diversity off"] == report["new"]["offline blend (same version)"]
    assert report["all"]["served for you"] != off  # this shop's diversity reorders its lists
    assert "Diversity λ 0.3" in served_markdown(report)
    assert RecommenderSettings.get().diversity_lambda == 0.3  # rolled back


def _dear_rebuyers(keys: dict[str, str], cut, shoppers: int = 40, days: int = 8) -> None:
    """Each shopper buys four products on the first days, then on every later day buys again the
    dearest product they have (an exchange for another size), never the newest one."""
    prices = dict(ProductVector.objects.values_list("product_key", "price"))
    rng = np.random.default_rng(5)
    rows = []
    names = [n for n in CYCLE if keys[n] in prices]
    for s in range(shoppers):
        mine = [keys[n] for n in rng.choice(names, size=4, replace=False)]
        dearest = max(mine, key=lambda k: prices[k])
        mine = [k for k in mine if k != dearest]
        mine.insert(int(rng.integers(2)), dearest)  # first or second: never the newest of the four
        for day in range(days):
            key = mine[day] if day < 4 else dearest
            when = cut - timedelta(days=days - 2 - day, hours=int(rng.integers(1, 20)))
            rows.append(Event(type="purchase", session_key=f"d{s}", product_key=key, created_at=when))
            if day >= 4:  # and something new, so the newest purchase is not always the dearest
                other = keys[names[(s + day) % len(names)]]
                rows.append(Event(type="purchase", session_key=f"d{s}", product_key=other, created_at=when))
    Event.objects.bulk_create(rows)


def test_served_equals_offline_with_a_learned_buy_again_order(vector_shop, behaviour_settings, settings):
    """Shoppers re-buy their dearest product: training learns that order (price weight > 0) and
    "for you" serves it exactly as the offline blend scores it."""
    settings.RECOMMENDER = {**settings.RECOMMENDER, "BEHAVIOUR": {**SMALL, "buy_again_min_shoppers": 10}}
    cut = timezone.now().replace(microsecond=0) - timedelta(days=1)
    _dear_rebuyers(vector_shop, cut)
    _all_in_stock()
    _shop_settings(diversity_lambda=1.0, exclude_purchased=False)

    report = served_evaluation(cut, baselines=False)

    buy_again = report["version"]["buy_again"]
    assert buy_again["used"] is True and buy_again["price_weight"] > 0, buy_again
    assert buy_again["held_out_map@12"] > buy_again["recency_map@12"]
    assert "Buy-again order: learned on" in served_markdown(report)
    served, offline = report["all"]["served for you"], report["all"]["offline blend (same version)"]
    assert served["map@12"] > 0
    assert served == offline


def test_leave_one_out_holds_out_each_newest_product_and_equals_the_offline_blend(vector_shop, behaviour_settings):
    """What the Amazon benchmarks define: the newest product of each shopper is the target, the
    model validates on the one before it, and served equals offline at @10, to the last digit."""
    _buyers(vector_shop, timezone.now().replace(microsecond=0) - timedelta(days=1))
    _all_in_stock()
    _shop_settings(diversity_lambda=1.0, exclude_purchased=False)
    newest = {}
    for session, key in Event.objects.order_by("created_at", "pk").values_list("session_key", "product_key"):
        newest[session] = key
    events, versions = Event.objects.count(), ModelVersion.objects.count()

    report = served_evaluation(protocol=LEAVE_ONE_OUT, baselines=True)

    assert report["protocol"] == "leave-one-out" and report["k"] == 10 and report["cut"] is None
    assert report["version"]["validation"]["protocol"] == "leave-last-out"
    assert report["shoppers"] == len(newest) == 40
    served, offline = report["all"]["served for you"], report["all"]["offline blend (same version)"]
    assert set(served) == {"map@10", "recall@10", "ndcg@10", "users"} and served["recall@10"] > 0
    assert served == offline
    assert report["new"]["served for you"] == report["new"]["offline blend (same version)"]
    assert {"item co-occurrence kNN", "ALS (implicit)", "popularity"} <= set(report["all"])
    assert Event.objects.count() == events and ModelVersion.objects.count() == versions


def test_leave_one_out_serves_from_the_history_before_the_newest_product(vector_shop, behaviour_settings, monkeypatch):
    """The held-out product's trailing events (its view and its purchase) all go; the rest stays."""
    from recommender.training.behaviour import served as served_module

    now = timezone.now()
    rows = [("view", "dress-a", 5), ("purchase", "coat-a", 4), ("view", "shoes-a", 3), ("purchase", "shoes-a", 2)]
    Event.objects.bulk_create(
        [
            Event(type=kind, session_key="s", product_key=vector_shop[name], created_at=now - timedelta(hours=h))
            for kind, name, h in rows
        ]
    )
    seen = {}

    def asked(strategy, **kwargs):
        seen["history"] = list(
            Event.objects.filter(session_key="s").order_by("created_at").values_list("product_key", flat=True)
        )
        return recommend(strategy, **kwargs)

    monkeypatch.setattr(served_module, "recommend", asked)
    report = served_evaluation(protocol=LEAVE_ONE_OUT, baselines=False)
    assert report["shoppers"] == 1
    assert seen["history"] == [vector_shop["dress-a"], vector_shop["coat-a"]]
    assert Event.objects.filter(session_key="s").count() == 4


def test_served_evaluation_refuses_a_protocol_it_does_not_know_and_a_misplaced_cut(db):
    with pytest.raises(ValueError, match="Unknown protocol"):
        served_evaluation(timezone.now(), protocol="k-fold")
    with pytest.raises(ValueError, match="needs a cut"):
        served_evaluation()
    with pytest.raises(ValueError, match="takes no cut"):
        served_evaluation(timezone.now(), protocol=LEAVE_ONE_OUT)


def test_evaluate_command_served_leave_one_out(vector_shop, behaviour_settings, tmp_path):
    with pytest.raises(CommandError, match="no --cut"):
        call_command("recommender_evaluate", "--served", "--protocol", "leave-one-out", "--cut", "2020-01-01")
    with pytest.raises(CommandError, match="two catalogue products"):
        call_command("recommender_evaluate", "--served", "--protocol", "leave-one-out", "--output", str(tmp_path))


def test_served_evaluation_without_enough_history_scores_the_profile_path(vector_shop, behaviour_settings):
    cut = timezone.now() - timedelta(days=1)
    Event.objects.bulk_create(
        [
            Event(type="purchase", session_key=f"few{s}", product_key=vector_shop[name], created_at=when)
            for s in range(3)
            for name, when in (("dress-a", cut - timedelta(days=2)), ("coat-a", cut + timedelta(hours=2)))
        ]
    )
    report = served_evaluation(cut, baselines=False)
    assert report["behaviour_model"].startswith("no behaviour model")
    assert report["shoppers"] == 3 and report["all"]["served for you"]["users"] == 3
    assert ModelVersion.objects.filter(kind=ModelVersion.Kind.BEHAVIOUR).count() == 0


def test_evaluate_command_served_needs_a_cut_and_writes_the_report(vector_shop, behaviour_settings, tmp_path):
    with pytest.raises(CommandError, match="--cut"):
        call_command("recommender_evaluate", "--served")
    with pytest.raises(CommandError, match="not a date"):
        call_command("recommender_evaluate", "--served", "--cut", "yesterday")
    with pytest.raises(CommandError, match="Nobody"):
        call_command("recommender_evaluate", "--served", "--cut", "2020-01-01", "--output", str(tmp_path))


# --- the purchase policy -----------------------------------------------------------------------------


def _behaviour_version(rate: float | None, weight: float = 8.0) -> ModelVersion:
    metrics = {} if rate is None else {"repurchase_rate": rate, "repurchase_weight": weight}
    return ModelVersion.objects.create(
        kind=ModelVersion.Kind.BEHAVIOUR, name="b", state=ModelVersion.State.ACTIVE, metrics=metrics
    )


@pytest.mark.parametrize(
    ("setting", "rate", "weight", "excluded"),
    [
        (None, None, 0.0, True),  # auto, nothing measured: purchases excluded as before
        (None, 0.2, 0.0, True),  # auto, re-buying happens but validation found no gain in offering it
        (None, 0.009, 8.0, False),  # auto, rare repeats (H&M) that validation found worth offering
        (None, 0.0, 8.0, True),  # nobody ever re-bought: nothing to offer
        (True, 0.2, 8.0, True),  # the owner's explicit choice wins
        (False, 0.0, 0.0, False),
    ],
)
def test_purchase_policy_follows_the_measured_repurchase(db, setting, rate, weight, excluded):
    if rate is not None:
        _behaviour_version(rate, weight)
    _shop_settings(exclude_purchased=setting)
    assert repurchase_rate() == rate
    assert excludes_purchased(RecommenderSettings.get()) is excluded


def test_auto_is_the_default_and_a_minimum_rate_a_setting(db, settings):
    assert RecommenderSettings.get().exclude_purchased is None
    _behaviour_version(0.2)
    assert not excludes_purchased(RecommenderSettings.get())
    settings.RECOMMENDER = {**settings.RECOMMENDER, "BUY_AGAIN_MIN_REPURCHASE_RATE": 0.5}
    assert excludes_purchased(RecommenderSettings.get())


def test_auto_policy_keeps_purchases_in_recommendations_when_rebuying_is_common(vector_shop, user):
    Event.objects.create(type="purchase", user=user, product_key=vector_shop["dress-b"])
    Event.objects.create(type="view", user=user, product_key=vector_shop["dress-a"])
    assert vector_shop["dress-b"] not in recommend("for_you", user=user, limit=11).keys  # nothing measured yet
    _behaviour_version(0.3)
    cache.clear()
    assert vector_shop["dress-b"] in recommend("for_you", user=user, limit=11).keys


def test_training_measures_the_repurchase_rate_and_validates_on_a_time_split(vector_shop, behaviour_settings):
    from recommender.training.behaviour.train import train_behaviour

    cut = timezone.now() - timedelta(days=1)
    _buyers(vector_shop, cut)
    purchases = Event.objects.filter(created_at__lt=cut)
    version = train_behaviour(activate=False, until=cut)
    metrics = version.metrics
    bought: dict[str, list[str]] = {}
    for session, key in purchases.order_by("created_at").values_list("session_key", "product_key"):
        bought.setdefault(session, []).append(key)
    repeats = sum(len(keys) - len(set(keys)) for keys in bought.values())
    assert metrics["purchases"] == purchases.count() and metrics["repeat_purchases"] == repeats > 0
    assert metrics["repurchase_rate"] == pytest.approx(repeats / purchases.count())
    assert repurchase_rate(version) == metrics["repurchase_rate"]
    assert metrics["validation"]["protocol"] == "time split"
    assert metrics["cooccurrence"]["metric"] == "valid_new_map@12"


def test_training_falls_back_to_the_newest_product_with_few_buyers_in_the_window(
    vector_shop, behaviour_settings, settings
):
    from recommender.training.behaviour.train import train_behaviour

    settings.RECOMMENDER = {**settings.RECOMMENDER, "BEHAVIOUR": {**SMALL, "time_split_min_users": 1000}}
    _buyers(vector_shop, timezone.now() - timedelta(days=1))
    version = train_behaviour(activate=False)
    assert version.metrics["validation"]["protocol"] == "leave-last-out"


def test_admin_settings_show_the_buy_again_order_training_chose(admin_client):
    """The settings page says how "Buy again" orders purchases: newest first (nothing measured, or
    no better order learned) or the learned order with its held-out result, as training stored it."""
    from recommender.training.behaviour.buy_again import fit_buy_again
    from recommender.training.behaviour.data import EvalSet

    url = "/admin/recommender/recommendersettings/1/change/"
    RecommenderSettings.objects.get_or_create(pk=1)
    assert "newest first (not measured yet: train a behaviour model)" in admin_client.get(url).content.decode()

    # 40 shoppers who each bought a dear product, then a cheap one, and came back for the dear one
    evalset = EvalSet([[2 * i, 2 * i + 1] for i in range(40)], [[2 * i] for i in range(40)], None)
    prices = np.tile([90.0, 10.0], 40)
    for min_shoppers, expected in (
        (1000, "newest first (40 shoppers bought again: no better order learned)"),
        (10, "learned from 40 shoppers who bought again (recency and price): MAP@12 "),
    ):
        _ranker, info = fit_buy_again(evalset, prices, min_shoppers=min_shoppers)
        version = _behaviour_version(0.5)
        version.metrics = {**version.metrics, "repurchase": {"buy_again": info}}
        version.save(update_fields=["metrics"])
        html = admin_client.get(url).content.decode()
        assert expected in html, html
        version.delete()
    assert f"MAP@12 {info['held_out_map@12']:.3f} on shoppers it was not fitted on" in html
    assert info["held_out_map@12"] > info["recency_map@12"]


def test_admin_settings_show_the_measured_repurchase_rate_and_the_decision(admin_client):
    url = "/admin/recommender/recommendersettings/1/change/"
    RecommenderSettings.objects.get_or_create(pk=1)
    html = admin_client.get(url).content.decode()
    assert "not measured yet" in html and "purchased products excluded" in html
    assert "Auto: offer to buy again when re-buying is common" in html  # the tri-state's choices
    _behaviour_version(0.125)
    html = admin_client.get(url).content.decode()
    assert "12.5% of purchases repeat an earlier one; offering them again helped" in html
    assert "&quot;Buy again&quot; offered" in html or '"Buy again" offered' in html
