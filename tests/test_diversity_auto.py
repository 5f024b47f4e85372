"""Diversity on auto: training measures what each MMR λ costs on the shop's validation shoppers,
keeps the most diverse one that costs nothing, and "for you" serves it while the setting is blank.

The measurement is unit-tested on hand-made scores and vectors (near-copies bought together or
not), then through the real stack: a tiny behaviour model trained on the conftest shop, served by
``recommend()`` from Postgres, the admin page and the served evaluation's report.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from recommender.behaviour import serving
from recommender.diversity import AUTO_LAMBDA, diversity_lambda
from recommender.models import Event, ModelVersion, RecommenderSettings
from recommender.recommend import recommend
from recommender.training.behaviour.data import EvalSet
from recommender.training.behaviour.diversity_cost import (
    DIVERSITY_GRID,
    choose_lambda,
    kept_lambda,
    measure_diversity,
    scores_by_lambda,
)
from recommender.training.behaviour.served import served_evaluation
from recommender.training.behaviour.served_report import served_markdown
from recommender.training.behaviour.train import train_behaviour
from tests.conftest import TINY_BEHAVIOUR
from tests.test_admin import settings_post
from tests.test_behaviour_popularity import fitted_shop
from tests.test_behaviour_shop import _set_weights
from tests.test_served_evaluation import _all_in_stock, _buyers, _dear_rebuyers, _shop_settings

SMALL = {**TINY_BEHAVIOUR, "epochs": 6, "patience": 6, "time_split_min_users": 5}

# Items 0-2 are near-copies (one vector), 3 and 4 unlike them and each other; 5 is the shopper's own.
VECTORS = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], np.float32)
MODEL = np.array([5.0, 4.9, 4.8, 1.0, 0.5, 0.2])


def _model(histories, types=None) -> np.ndarray:
    return np.tile(MODEL, (len(histories), 1))


def _measure(targets: list[int], history=(5,), own=None) -> dict:
    return measure_diversity(_model, [], VECTORS, EvalSet([list(history)], [targets]), "map@2", 2, own=own)


def test_a_shop_whose_shoppers_buy_unlike_products_gets_the_most_diverse_lambda_that_helps():
    info = _measure([0, 3])  # the best product and one unlike it: relevance alone shows two copies
    scores = scores_by_lambda(info)
    assert scores[1.0] == pytest.approx(0.5) and scores[0.5] == pytest.approx(1.0)
    assert choose_lambda(scores) == 0.5
    assert info["list_similarity"]["1.0"] == pytest.approx(1.0) and info["list_similarity"]["0.5"] == 0.0
    assert info["metric"] == "valid_map@2" and info["valid_users"] == 1 and set(scores) == set(DIVERSITY_GRID)


def test_a_shop_whose_shoppers_buy_near_copies_together_keeps_relevance():
    info = _measure([0, 1])  # two colours of one product bought together
    scores = scores_by_lambda(info)
    assert scores[1.0] == pytest.approx(1.0) and scores[0.5] == pytest.approx(0.5)
    # down to 0.6 MMR still picks the copy (relevance 0.978 against 0.111): the same list, no cost
    assert choose_lambda(scores) == 0.6
    assert all(scores[lam] == scores[1.0] for lam in DIVERSITY_GRID if lam >= 0.6)


def test_buy_again_in_the_list_shows_the_cost_that_new_products_alone_hide():
    """The shopper bought 0; its copy 1 is their next purchase. Without their own products the copy
    tops the list at every λ; with "Buy again" listed first, MMR spreads the copy away from it."""

    def own(histories, types=None):
        out = np.zeros((len(histories), len(MODEL)))
        out[:, 0] = 1.0
        return out

    new = scores_by_lambda(_measure([1], history=(0,)))
    listed = scores_by_lambda(_measure([1], history=(0,), own=(8.0, own)))
    assert all(score == 1.0 for score in new.values())
    assert listed[1.0] == 0.5 and listed[0.6] == 0.5 and listed[0.5] == 0.0  # 0 stays first, then 1, or 3
    assert choose_lambda(new) == 0.5 and choose_lambda(new, listed) == 0.6


def test_the_measured_pool_is_the_served_one_each_parts_own_best_never_the_shoppers_own():
    fetch = 40  # Context(limit=2).fetch; a part's candidate must join beyond the model's best
    n = fetch + 10
    vectors = np.eye(n, dtype=np.float32)
    model = np.linspace(1.0, 0.0, n)
    part = np.zeros(n)
    part[n - 1] = 1.0  # the model's worst, the part's only product

    def model_scorer(histories, types=None):
        return np.tile(model, (len(histories), 1))

    def part_scorer(histories, types=None):
        return np.tile(part, (len(histories), 1))

    evalset = EvalSet([[0]], [[n - 1]])
    alone = measure_diversity(model_scorer, [({"weight": 0.0}, part_scorer)], vectors, evalset, "map@2", 2)
    joined = measure_diversity(model_scorer, [({"weight": 8.0}, part_scorer)], vectors, evalset, "map@2", 2)
    assert alone["by_lambda"]["1.0"] == 0.0  # weight 0: the part offers nothing, its product is not a candidate
    assert joined["by_lambda"]["1.0"] == 1.0  # its own best joins and the blend ranks it first
    own = measure_diversity(model_scorer, [], vectors, EvalSet([[0]], [[0]]), "map@2", 2)
    assert own["by_lambda"]["1.0"] == 0.0  # the shopper's own product is never a suggestion


def test_nothing_measured_keeps_no_lambda_rather_than_the_most_diverse():
    """A validation without a scorable shopper (every purchase a repeat) measures nothing: auto must
    fall back to the default, not read the all-zero scores as "every λ costs nothing"."""
    empty = measure_diversity(_model, [], VECTORS, EvalSet([], []), "map@2", 2)
    assert empty["valid_users"] == 0 and choose_lambda(scores_by_lambda(empty)) == 0.5  # what it would read
    assert kept_lambda(empty) is None and kept_lambda(None) is None
    scored = _measure([0, 1])
    assert kept_lambda(empty, scored, None) == choose_lambda(scores_by_lambda(scored)) == 0.6


def test_the_lambda_served_is_the_owners_else_the_measured_else_the_default():
    assert diversity_lambda(0.3, 0.9) == 0.3
    assert diversity_lambda(1.0, None) == 1.0
    assert diversity_lambda(None, 0.9) == 0.9
    assert diversity_lambda(None, None) == AUTO_LAMBDA == 0.8


@pytest.mark.django_db
def test_training_measures_each_lambda_and_auto_serves_the_kept_one(vector_shop, behaviour_settings):
    cut = timezone.now().replace(microsecond=0) - timedelta(days=1)
    _buyers(vector_shop, cut)
    _all_in_stock()
    _shop_settings(exclude_purchased=False, cache_seconds=0)
    assert RecommenderSettings.get().diversity_lambda is None  # auto is the default

    version = train_behaviour(activate=True)

    info = version.metrics["diversity"]
    scores = scores_by_lambda(info["new"])
    assert set(scores) == set(DIVERSITY_GRID) and info["new"]["metric"] == "valid_map@12"
    assert info["new"]["valid_users"] > 0
    assert version.metrics["repurchase_weight"] == 0 and info["with_own"] is None  # no "Buy again" to list
    assert version.metrics["diversity_lambda"] == info["lambda"] == choose_lambda(scores)
    assert scores[info["lambda"]] >= scores[1.0]
    assert serving.measured_diversity(version) == info["lambda"]

    # auto serves "for you" with the version's λ: the lists of an owner who set that λ, not another's
    _set_weights(version, diversity_lambda=0.3)
    sessions = sorted(set(Event.objects.values_list("session_key", flat=True)))
    lists = {}
    for setting in (None, 0.3, 1.0):
        _shop_settings(diversity_lambda=setting)
        lists[setting] = [recommend("for_you", session_key=s, limit=8).keys for s in sessions]
    assert lists[None] == lists[0.3]
    assert lists[None] != lists[1.0]  # λ 0.3 reorders some shopper's list
    # a stored λ outside 0..1 (or none: a version trained before auto) is not served: auto uses 0.8
    _set_weights(version, diversity_lambda=1.5)
    assert serving.measured_diversity(version) is None
    for setting in (None, AUTO_LAMBDA):
        _shop_settings(diversity_lambda=setting)
        lists[setting] = [recommend("for_you", session_key=s, limit=8).keys for s in sessions]
    assert lists[None] == lists[AUTO_LAMBDA]
    # lists without a measured blend ("similar products") keep AUTO_LAMBDA
    product = vector_shop["coat-c"]
    similar = {}
    for setting in (None, AUTO_LAMBDA, 1.0, 0.0):
        _shop_settings(diversity_lambda=setting)
        similar[setting] = recommend("similar", product_key=product, limit=6).keys
    assert similar[None] == similar[AUTO_LAMBDA]
    assert len({tuple(v) for v in similar.values()}) > 1  # λ changes this list at all


@pytest.mark.django_db
def test_a_shop_that_offers_buy_again_is_measured_with_it_listed(vector_shop, behaviour_settings):
    """Where own purchases have a weight, the lists are measured a second time with them listed.
    The weight is set here: which one validation picks on this tiny shop is not the point."""
    from recommender.training.behaviour.baselines import Repurchase
    from recommender.training.behaviour.evaluate import OwnPurchases
    from recommender.training.behaviour.train import measure_diversities, tune_blend_chain

    cut = timezone.now().replace(microsecond=0) - timedelta(days=1)
    _dear_rebuyers(vector_shop, cut)
    cfg, data, split, model, counts = fitted_shop()
    chain = tune_blend_chain(model, data, split, cfg, counts)
    own = OwnPurchases(Repurchase(counts))

    alone = measure_diversities(model, {**chain, "own": None}, data.features, split, cfg)
    listed = measure_diversities(model, {**chain, "own": own, "repurchase": {"weight": 8.0}}, data.features, split, cfg)

    assert alone["with_own"] is None and alone["lambda"] == choose_lambda(scores_by_lambda(alone["new"]))
    new, kept = scores_by_lambda(listed["new"]), scores_by_lambda(listed["with_own"])
    assert new == scores_by_lambda(alone["new"])
    assert listed["with_own"]["metric"] == "valid_map@12" and kept != new  # every purchase, their own listed first
    assert listed["lambda"] == choose_lambda(new, kept) >= alone["lambda"]


@pytest.mark.django_db
def test_the_served_evaluation_reports_auto_and_the_measured_costs(vector_shop, behaviour_settings):
    cut = timezone.now().replace(microsecond=0) - timedelta(days=1)
    _buyers(vector_shop, cut)
    _all_in_stock()
    _shop_settings(exclude_purchased=False, diversity_lambda=None)

    report = served_evaluation(cut, baselines=False)

    measured = report["diversity_measured"]
    assert report["diversity_setting"] == "auto" and report["diversity_lambda"] == measured["lambda"]
    assert ("served for you, diversity off" in report["all"]) == (measured["lambda"] < 1)
    text = served_markdown(report)
    assert "(auto: measured on validation)" in text
    assert f"Diversity measured on validation (auto keeps λ {measured['lambda']}):" in text
    assert "- products new to the shopper, valid_map@12" in text
    assert RecommenderSettings.get().diversity_lambda is None  # rolled back as it was


@pytest.mark.django_db
def test_admin_settings_show_the_measured_diversity(admin_client, vector_shop, behaviour_settings):
    url = "/admin/recommender/recommendersettings/1/change/"
    RecommenderSettings.objects.get_or_create(pk=1)
    html = admin_client.get(url).content.decode()
    assert "not measured yet: train a behaviour model" in html and "now λ 0.8" in html
    version = ModelVersion.objects.create(
        kind=ModelVersion.Kind.BEHAVIOUR,
        name="measured",
        state=ModelVersion.State.ACTIVE,
        metrics={
            "diversity_lambda": 0.9,
            "diversity": {
                "lambda": 0.9,
                "new": {"metric": "valid_map@12", "by_lambda": {"1.0": 0.05, "0.9": 0.051, "0.8": 0.047}},
            },
        },
    )
    html = admin_client.get(url).content.decode()
    assert "λ 0.9: the most diverse that ranked the shop" in html
    print("\nSNIP", html[html.find("most diverse") - 10 : html.find("most diverse") + 300])
    assert "valid_map@12 0.0500" in html and "λ 0.9: +0.0010, λ 0.8: -0.0030" in html
    assert "now λ 0.9" in html
    _shop_settings(diversity_lambda=0.5)
    assert "now λ 0.5" in admin_client.get(url).content.decode()
    response = admin_client.post(url, settings_post(diversity_lambda=""))
    assert response.status_code == 302 and RecommenderSettings.get().diversity_lambda is None  # blank: auto
    version.delete()


@pytest.mark.django_db(transaction=True)
def test_upgrading_moves_the_old_default_to_auto_and_keeps_an_owners_lambda():
    executor = MigrationExecutor(connection)
    executor.migrate([("recommender", "0013_product_neighbours")])
    old = executor.loader.project_state([("recommender", "0013_product_neighbours")]).apps
    Settings = old.get_model("recommender", "RecommenderSettings")
    try:
        for value, expected in ((0.8, None), (0.5, 0.5)):
            Settings.objects.update_or_create(pk=1, defaults={"diversity_lambda": value})
            executor = MigrationExecutor(connection)
            executor.migrate([("recommender", "0014_diversity_auto")])
            assert RecommenderSettings.objects.get(pk=1).diversity_lambda == expected
            executor = MigrationExecutor(connection)
            executor.migrate([("recommender", "0013_product_neighbours")])
            assert Settings.objects.get(pk=1).diversity_lambda == (0.8 if expected is None else 0.5)  # and back
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
