"""The behaviour model in the shop: recommender_train, the registered version, serving fallbacks.

Uses the conftest ``vector_shop`` (12 products, hand-made 4-d fused vectors, one axis per family)
rather than a real encoder: training reads only the stored vectors, and this keeps the file fast.
Shoppers here always move dress -> coat -> shoes -> bag -> dress, so a trained model's vector
after a dress must lie closest to the coats.
"""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from recommender.behaviour import serving
from recommender.behaviour.serving import behaviour_user_vector
from recommender.models import Event, ModelVersion
from recommender.storage import nearest
from recommender.versions import serving_version
from tests.conftest import TINY_BEHAVIOUR

pytestmark = pytest.mark.django_db

CYCLE = ["dress-a", "coat-a", "shoes-a", "bag-a"]
SMALL = TINY_BEHAVIOUR  # the behaviour_settings fixture's default


def _events(keys: dict[str, str], sessions: int = 40) -> None:
    rng = np.random.default_rng(0)
    start = timezone.now() - timedelta(days=1)
    rows = []
    for s in range(sessions):
        first = int(rng.integers(4))
        for step in range(6):
            name = CYCLE[(first + step) % 4]
            rows.append(
                Event(
                    type="view",
                    session_key=f"s{s}",
                    product_key=keys[name],
                    created_at=start + timedelta(minutes=10 * s + step),
                    processed=True,
                )
            )
    Event.objects.bulk_create(rows)


def _view(keys, session: str, names: list[str]) -> None:
    now = timezone.now()
    Event.objects.bulk_create(
        [
            Event(type="view", session_key=session, product_key=keys[n], created_at=now + timedelta(seconds=i))
            for i, n in enumerate(names)
        ]
    )


def _rebuyers(keys: dict[str, str], shoppers: int = 30) -> None:
    """Shoppers who each buy one staple product again and again between views of others.

    Their newest product (the validation target) is the staple once more.
    """
    rng = np.random.default_rng(1)
    names = [n for n in keys if n != "dress-out"]
    start = timezone.now() - timedelta(days=2)
    rows = []
    for s in range(shoppers):
        staple = names[int(rng.integers(len(names)))]
        others = [n for n in names if n != staple]
        views = [others[i] for i in rng.choice(len(others), 4, replace=False)]
        plan = [views[0], staple, views[1], staple, views[2], views[3], staple]
        for step, name in enumerate(plan):
            rows.append(
                Event(
                    type="purchase" if name == staple else "view",
                    session_key=f"r{s}",
                    product_key=keys[name],
                    created_at=start + timedelta(minutes=10 * s + step),
                    processed=True,
                )
            )
    Event.objects.bulk_create(rows)


def _buy_and_view(keys, session: str, plan: list[tuple[str, str]]) -> None:
    now = timezone.now()
    Event.objects.bulk_create(
        [
            Event(type=type_, session_key=session, product_key=keys[n], created_at=now + timedelta(seconds=i))
            for i, (type_, n) in enumerate(plan)
        ]
    )


def _exclude_purchased(value: bool) -> None:
    from recommender.models import RecommenderSettings

    settings = RecommenderSettings.get()
    settings.exclude_purchased = value
    settings.save()


def test_no_active_model_means_fallback(vector_shop, behaviour_settings):
    _view(vector_shop, "fresh", ["dress-a"])
    assert behaviour_user_vector(None, "fresh") is None


def test_no_active_model_keeps_the_profile_path_with_purchases(vector_shop, behaviour_settings):
    from recommender.profiles import get_profile_vector
    from recommender.recommend import recommend

    # a trained but inactive version with a repurchase weight is not used
    ModelVersion.objects.create(
        kind=ModelVersion.Kind.BEHAVIOUR, state=ModelVersion.State.READY, metrics={"repurchase_weight": 16.0}
    )
    _exclude_purchased(False)
    _buy_and_view(
        vector_shop, "buyer", [("purchase", "coat-b"), ("view", "dress-a"), ("purchase", "coat-b"), ("view", "bag-a")]
    )
    recs = recommend("for_you", session_key="buyer", limit=5)
    profile = get_profile_vector(None, "buyer", serving_version())
    assert len(recs) == 5 and recs.keys[0] == nearest(profile, k=1)[0][0]
    assert all(r.reason.startswith("Because you") for r in recs), [r.reason for r in recs]


def test_train_command_registers_activates_and_serves(vector_shop, behaviour_settings):
    _events(vector_shop)
    call_command("recommender_train", "--activate", "--name", "t", "--epochs", "6", "--lr", "0.02", verbosity=0)
    version = ModelVersion.objects.get(kind=ModelVersion.Kind.BEHAVIOUR)
    assert version.state == ModelVersion.State.ACTIVE
    assert version.config["encoder_version_id"] == serving_version().pk
    folder = behaviour_settings / version.artifact
    assert {"model.pt", "config.json", "items.json", "training_curves.png"} <= {p.name for p in folder.iterdir()}
    assert version.metrics["valid"]["ndcg@10"] > 0 and "test" in version.metrics
    # views only, nobody buys anything twice: no repurchase weight, and no tuning passes spent
    assert version.metrics["repurchase_weight"] == 0.0
    assert version.metrics["repurchase"] == {"repeat_purchases": 0, "weight": 0.0}

    # activation stored every product's output vector (hidden 16-d) under the behaviour version
    from recommender.models import ProductVector

    assert version.dimensions == SMALL["hidden"]
    stored = ProductVector.objects.filter(version=version)
    assert stored.count() == ProductVector.objects.filter(version=serving_version()).count() == len(vector_shop)
    assert stored.get(product_key=vector_shop["dress-out"]).in_stock is False  # filter fields copied

    # a shopper who just viewed a dress: the state (16-d, unit) lies among the coats' output vectors
    _view(vector_shop, "new", ["bag-b", "dress-b"])
    started = time.perf_counter()
    vector = behaviour_user_vector(None, "new")
    latency = time.perf_counter() - started
    assert vector is not None and vector.shape == (SMALL["hidden"],)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    hits = nearest(vector, version=version, k=3)
    back = {v: k for k, v in vector_shop.items()}
    assert back[hits[0][0]].startswith("coat"), [back[k] for k, _ in hits]
    assert latency < 2.0

    # no history -> None (the caller uses the profile vector / trending)
    assert behaviour_user_vector(None, "nobody") is None
    assert behaviour_user_vector(None, "") is None

    # a model trained on another encoder version's vectors is not used
    version.config = {**version.config, "encoder_version_id": version.config["encoder_version_id"] + 1000}
    version.save(update_fields=["config"])
    assert behaviour_user_vector(None, "new") is None


def test_train_without_enough_events_is_a_clear_error(vector_shop, behaviour_settings):
    _view(vector_shop, "short", ["dress-a", "coat-a"])
    with pytest.raises(CommandError, match="Not enough events"):
        call_command("recommender_train", verbosity=0)
    assert not ModelVersion.objects.filter(kind=ModelVersion.Kind.BEHAVIOUR).exists()


def test_auto_activation_only_when_better_through_the_celery_task(vector_shop, behaviour_settings, settings):
    from recommender.training.behaviour.train import train_behaviour
    from recommender.training.tasks import train_behaviour_task

    _events(vector_shop)
    settings.RECOMMENDER = {**settings.RECOMMENDER, "BEHAVIOUR": {**SMALL, "epochs": 1, "auto_activate": True}}
    first = ModelVersion.objects.get(pk=train_behaviour_task.delay().get())
    assert first.state == ModelVersion.State.ACTIVE  # nothing was active
    assert serving.artifact_path(first).is_dir()
    first.metrics = {**first.metrics, "valid": {"ndcg@10": 2.0}}  # unbeatable
    first.save(update_fields=["metrics"])
    second = train_behaviour()
    assert second.state == ModelVersion.State.READY
    first.refresh_from_db()
    assert first.state == ModelVersion.State.ACTIVE


@pytest.mark.parametrize(
    ("dataset", "script"), [("hm", "bench/behaviour_hm.py"), ("amazon-scientific", "bench/behaviour_amazon.py")]
)
def test_evaluate_command_sends_public_benchmarks_to_bench(dataset, script):
    with pytest.raises(CommandError, match=script):
        call_command("recommender_evaluate", "--dataset", dataset, verbosity=0)
    with pytest.raises(CommandError, match='"shop" only'):
        call_command("recommender_evaluate", "--dataset", "movies", verbosity=0)


def test_evaluate_command_on_the_shop(vector_shop, behaviour_settings, tmp_path):
    import json

    _events(vector_shop)
    call_command("recommender_evaluate", "--dataset", "shop", "--epochs", "2", "--output", str(tmp_path), verbosity=0)
    report = json.loads((tmp_path / "behaviour_shop.json").read_text())
    assert report["data"]["protocol"] == "leave-one-out" and report["data"]["test_users"] == 40
    assert {"behaviour model", "popularity", "ALS (implicit)", "last-item transitions"} <= set(report["test"])
    # the cycle is deterministic: transitions find every next item
    assert report["test"]["last-item transitions"]["recall@10"] == 1.0
    assert {"behaviour_shop.md", "behaviour_shop_epochs.png", "behaviour_shop_by_k.png"} <= {
        p.name for p in tmp_path.iterdir()
    }


def test_repurchase_weight_is_tuned_and_for_you_offers_to_buy_again(vector_shop, behaviour_settings):
    from django.core.cache import cache

    from recommender.recommend import recommend
    from recommender.training.behaviour.evaluate import BLEND_GRID
    from recommender.training.behaviour.train import train_behaviour

    _events(vector_shop)
    _rebuyers(vector_shop)
    version = train_behaviour(activate=True)
    tuned = version.metrics["repurchase"]
    assert tuned["repeat_purchases"] == 30 * 2 and tuned["metric"] == "valid_map@12"
    assert set(tuned["by_weight"]) == {str(w) for w in BLEND_GRID}
    # the re-bought staple is every rebuyer's validation target: blending the purchases helps
    weight = version.metrics["repurchase_weight"]
    assert weight > 0 and tuned["by_weight"][str(weight)] > tuned["by_weight"]["0.0"]

    # a shopper who keeps buying coat-b, just viewed a bag; the shop keeps purchases in "for you"
    _buy_and_view(
        vector_shop, "buyer", [("purchase", "coat-b"), ("view", "dress-a"), ("purchase", "coat-b"), ("view", "bag-a")]
    )
    _exclude_purchased(False)
    back = {v: k for k, v in vector_shop.items()}
    recs = recommend("for_you", session_key="buyer", limit=5)
    assert (back[recs.keys[0]], recs.items[0].reason) == ("coat-b", "Buy again"), [back[k] for k in recs.keys]
    # the model's candidates follow, with their own reasons
    model_hits = {k for k, _ in nearest(behaviour_user_vector(None, "buyer"), version=version, k=20)}
    assert len(recs) == 5 and set(recs.keys[1:]) <= model_hits
    assert all(r.reason.startswith("Because you") for r in recs.items[1:]), [r.reason for r in recs]

    # the shop excludes purchases: coat-b never appears, the model alone ranks
    _exclude_purchased(True)
    excluded = recommend("for_you", session_key="buyer", limit=11)
    assert vector_shop["coat-b"] not in excluded.keys and len(excluded) > 5
    assert not any(r.reason == "Buy again" for r in excluded)

    # a version without a repurchase weight serves the model alone: the same list when purchases
    # are excluded, and no "Buy again" when they are not
    version.metrics = {**version.metrics, "repurchase_weight": 0.0}
    version.save(update_fields=["metrics"])
    cache.clear()
    assert recommend("for_you", session_key="buyer", limit=11).items == excluded.items
    _exclude_purchased(False)
    assert not any(r.reason == "Buy again" for r in recommend("for_you", session_key="buyer", limit=11))


# --- the co-occurrence blend ------------------------------------------------------------------------


def _wide_shop(keys: dict[str, str], fillers: int = 45) -> dict[str, str]:
    """``keys`` plus ``fillers`` coat-like products, each a little off the coat axis by a different
    amount, and "odd", pointing away from every other product: more products than "for you"
    fetches from pgvector (40), and one that is always the farthest from a query vector."""
    from recommender.storage import VectorRow, store_vectors
    from tests.testapp.models import Product

    keys, rows = dict(keys), []
    for i in range(fillers + 1):
        name = f"coat-f{i}" if i < fillers else "odd"
        product = Product.objects.create(name=name, category="coat" if i < fillers else "odd", price=50 + i)
        keys[name] = str(product.pk)
        v = np.full(4, 0.02, dtype=np.float32)
        v[1] = 1.0
        v[(0, 3)[i % 2]] += 0.003 * (i + 1)
        if name == "odd":
            v = -np.ones(4, dtype=np.float32)
        v /= np.linalg.norm(v)
        rows.append(
            VectorRow(
                key=keys[name],
                embedding=v,
                image_embedding=v,
                text_embedding=v,
                title=name,
                category=product.category,
                price=product.price,
            )
        )
    store_vectors(serving_version(), rows)
    return keys


def _pairs(keys: dict[str, str], names: tuple[str, str], sessions: int = 10) -> None:
    """Shoppers who view exactly these two products: they co-occur, and nothing else with them."""
    start = timezone.now() - timedelta(days=3)
    Event.objects.bulk_create(
        [
            Event(
                type="view",
                session_key=f"p{s}",
                product_key=keys[name],
                created_at=start + timedelta(minutes=s, seconds=i),
                processed=True,
            )
            for s in range(sessions)
            for i, name in enumerate(names)
        ]
    )


def _set_weights(version: ModelVersion, **weights: float) -> None:
    version.metrics = {**version.metrics, **weights}
    version.save(update_fields=["metrics"])
    serving.clear_cache()


def _diversity_off() -> None:
    from recommender.models import RecommenderSettings

    settings = RecommenderSettings.get()
    settings.diversity_lambda = 1.0  # MMR keeps the strategy's order: the blend is compared as ranked
    settings.save()


def _offline_blend(version: ModelVersion, session: str) -> tuple[dict[str, float], list[str]]:
    """Blend(...Blend(ModelScorer, co-occurrence, w_c), families, w_f), popularity, w_p), OwnPurchases, w_r) of the
    shopper's history over the whole catalogue, by product key, computed from the artifact alone
    (a part without its table or weight left out); and the history."""
    import json

    from recommender.behaviour.codes import EVENT_TYPES
    from recommender.behaviour.cooccurrence import FAMILY_FILENAME, FILENAME, load_table
    from recommender.behaviour.model import load_artifact
    from recommender.behaviour.popularity import load_popularity
    from recommender.profiles import product_vectors
    from recommender.training.behaviour.baselines import Repurchase
    from recommender.training.behaviour.cooccurrence import PopularityScorer, TableScorer
    from recommender.training.behaviour.evaluate import Blend, OwnPurchases
    from recommender.training.behaviour.fit import ModelScorer

    folder = serving.artifact_path(version)
    keys = json.loads((folder / "items.json").read_text())
    vectors = product_vectors(serving_version(), keys)
    model, keys, config = load_artifact(folder, np.stack([vectors[k] for k in keys]))
    hyper = config["hyperparameters"]
    history = serving.recent_history(None, session, list(hyper["event_types"]), int(hyper["max_len"]))
    index = {k: i for i, k in enumerate(keys)}
    items, types = [[index[k] for k, _ in history]], [[EVENT_TYPES[t] for _, t in history]]
    blend = ModelScorer(model)
    for filename, weight in ((FILENAME, "cooccurrence_weight"), (FAMILY_FILENAME, "family_weight")):
        table = load_table(folder, filename)
        if table is not None and version.metrics.get(weight):
            blend = Blend(blend, TableScorer(table), version.metrics[weight])
    popular = load_popularity(folder)
    if popular is not None and version.metrics.get("popularity_weight"):
        blend = Blend(blend, PopularityScorer(popular), version.metrics["popularity_weight"])
    own = OwnPurchases(Repurchase(np.ones(len(keys))))
    scores = Blend(blend, own, version.metrics["repurchase_weight"])(items, types)[0]
    return {k: float(scores[i]) for i, k in enumerate(keys)}, [k for k, _ in history]


def test_cooccurrence_weight_is_tuned_and_its_table_saved(vector_shop, behaviour_settings):
    from recommender.behaviour.config import behaviour_config
    from recommender.behaviour.cooccurrence import NEIGHBOURS, load_table
    from recommender.behaviour.model import load_artifact
    from recommender.training.behaviour.baselines import Repurchase, item_counts
    from recommender.training.behaviour.cooccurrence import TableScorer, build_table
    from recommender.training.behaviour.evaluate import BLEND_GRID, Blend, OwnPurchases, tune_blend
    from recommender.training.behaviour.fit import ModelScorer, valid_sample
    from recommender.training.behaviour.shop import load_shop
    from recommender.training.behaviour.shop_split import shop_split
    from recommender.training.behaviour.train import train_behaviour

    _events(vector_shop)
    _rebuyers(vector_shop)
    # activating clears the message; the validated model served (no refit), to recompute its scores
    version = train_behaviour(overrides={"refit": False}, activate=False)
    assert version.metrics["refit"] == {"epochs": 0}
    tuned = version.metrics["cooccurrence"]
    weight = version.metrics["cooccurrence_weight"]
    assert weight in BLEND_GRID and tuned["weight"] == weight and tuned["metric"] == "valid_ndcg@10"
    assert set(tuned["by_weight"]) == {str(w): 0 for w in BLEND_GRID}.keys()
    assert tuned["by_weight"][str(weight)] == max(tuned["by_weight"].values())
    assert tuned["neighbours"] == NEIGHBOURS and tuned["pairs"] > 0 and tuned["seconds"] >= 0
    assert f"co-occurrence weight {weight:g}" in version.message

    # tuned on the training part of the split; the saved table is CoocKNN's over every sequence
    # (the validation products are the newest pairs), in items.json order
    folder = serving.artifact_path(version)
    table = load_table(folder)
    cfg = behaviour_config()
    data = load_shop(cfg)
    split = shop_split(data, cfg)
    assert version.metrics["validation"]["protocol"] == split.info["protocol"] == "leave-last-out"
    # a whole blend was tuned for each similarity; the one whose blend validates best serves:
    # its score is the last tuned part's, the shopper's own purchases (they re-buy here)
    scores = tuned["by_similarity"]
    assert set(scores) == {"cosine", "count"} and tuned["similarity"] == max(scores, key=scores.get)
    assert scores[tuned["similarity"]] == max(version.metrics["repurchase"]["by_weight"].values())
    similarity = tuned["similarity"]
    assert tuned["pairs"] == build_table(split.train, data.n_items, similarity=similarity).pairs
    expected = build_table([seq for seq in data.sequences if len(seq) >= 2], data.n_items, similarity=similarity)
    assert table is not None and table.pairs == tuned["served_pairs"]
    for name in ("indptr", "indices", "similarities"):
        assert np.array_equal(getattr(table, name), getattr(expected, name)), name

    # the repurchase weight was tuned on top of the model + co-occurrence blend: the stored
    # validation scores are that blend's, recomputed here from the artifact
    model, keys, _ = load_artifact(folder, data.features)
    assert keys == data.item_keys
    counts = item_counts(split.train, data.n_items)
    blend = Blend(ModelScorer(model), TableScorer(table), weight)
    _, by_weight = tune_blend(
        blend, OwnPurchases(Repurchase(counts)), valid_sample(split.valid, cfg), counts, "map@12", (12,)
    )
    assert version.metrics["repurchase"]["by_weight"] == pytest.approx({str(w): v for w, v in by_weight.items()})


def test_for_you_ranks_model_cooccurrence_and_purchases_like_the_offline_blend(vector_shop, behaviour_settings):
    from recommender.behaviour.serving import behaviour_query
    from recommender.recommend import recommend
    from recommender.strategies import Context
    from recommender.strategies.personal import BUY_AGAIN, for_you
    from recommender.training.behaviour.train import train_behaviour

    keys = _wide_shop(vector_shop)
    _events(keys)
    _pairs(keys, ("odd", "bag-b"))  # bag-b's only co-occurring product
    # Output vectors from features alone keep "odd" the farthest product from every shopper (the
    # model validation chose: a refit learns the pairs of "odd" too).
    version = train_behaviour(overrides={"output_id": "", "refit": False}, activate=True)
    _set_weights(version, cooccurrence_weight=64.0, repurchase_weight=2.0)
    _exclude_purchased(False)
    _diversity_off()
    # bought shoes-b, then viewed bag-b (which co-occurs with "odd" only) and a dress
    _buy_and_view(keys, "fan", [("purchase", "shoes-b"), ("view", "bag-b"), ("view", "dress-b")])
    back = {v: k for k, v in keys.items()}

    query = behaviour_query(None, "fan")
    assert query is not None and query.cooccurrence_weight == 64.0 and query.repurchase_weight == 2.0
    assert [back[k] for k in query.cooccurrence] == ["odd"] and query.cooccurrence[keys["odd"]] == 1.0
    ctx = Context(version=serving_version(), limit=8, session_key="fan")
    hits = {k for k, _ in nearest(query.vector, version=version, k=ctx.fetch)}
    assert len(hits) == 40 and keys["odd"] not in hits  # only co-occurrence suggests it

    served = for_you(ctx)
    # candidates: the 40 hits, what co-occurrence suggests, what the shopper bought
    assert {c.key for c in served} == hits | {keys["odd"], keys["shoes-b"]}
    offline, history = _offline_blend(version, "fan")
    assert [back[k] for k in history] == ["shoes-b", "bag-b", "dress-b"]
    expected = sorted((c.key for c in served), key=lambda k: -offline[k])
    assert [back[c.key] for c in served] == [back[k] for k in expected]
    reasons = {back[c.key]: c.reason for c in served}
    assert reasons["shoes-b"] == BUY_AGAIN and reasons["odd"].startswith("Because you")

    # through recommend(): the co-occurring product is on the page, in the blend's order
    recs = recommend("for_you", session_key="fan", limit=8)
    assert keys["odd"] in recs.keys and recs.keys == [k for k in expected if k != keys["dress-out"]][:8]


def test_versions_without_cooccurrence_serve_the_model_alone(vector_shop, behaviour_settings, caplog):
    import shutil

    from recommender.behaviour.cooccurrence import FILENAME
    from recommender.behaviour.serving import behaviour_query
    from recommender.strategies import Context
    from recommender.strategies.personal import explain, for_you
    from recommender.training.behaviour.train import train_behaviour

    keys = _wide_shop(vector_shop)
    _events(keys)
    _pairs(keys, ("odd", "bag-b"))
    version = train_behaviour(overrides={"output_id": "", "refit": False}, activate=True)
    _set_weights(version, cooccurrence_weight=8.0, repurchase_weight=0.0)
    _view(keys, "fan", ["bag-b", "dress-b"])
    ctx = Context(version=serving_version(), limit=8, session_key="fan")

    def model_alone() -> list:
        query = behaviour_query(None, "fan")
        return explain(ctx, nearest(query.vector, version=version, k=ctx.fetch, filters=None))

    # with its table and a weight, co-occurrence adds odd (purchases are excluded: no own part)
    assert keys["odd"] in [c.key for c in for_you(ctx)]
    folder = serving.artifact_path(version)
    saved = folder.parent / "saved.npz"
    shutil.copy(folder / FILENAME, saved)

    def older_version() -> None:  # trained before co-occurrence: no weight in its metrics
        version.metrics = {k: v for k, v in version.metrics.items() if not k.startswith("cooccurrence")}
        version.save(update_fields=["metrics"])

    cases = {
        "no file": lambda: (folder / FILENAME).unlink(),
        "weight 0": lambda: (shutil.copy(saved, folder / FILENAME), _set_weights(version, cooccurrence_weight=0.0)),
        "no weight in the metrics": older_version,
        "unreadable file": lambda: (
            (folder / FILENAME).write_bytes(b"not a table"),
            _set_weights(version, cooccurrence_weight=8.0),
        ),
    }
    for case, change in cases.items():
        change()
        version.refresh_from_db()
        serving.clear_cache()
        assert (folder / FILENAME).exists() == (case != "no file"), case
        query = behaviour_query(None, "fan")
        assert query is not None and query.cooccurrence_weight == 0.0 and not query.cooccurrence, case
        assert for_you(ctx) == model_alone(), case
        assert keys["odd"] not in [c.key for c in for_you(ctx)], case
    assert "co-occurrence table unreadable" in caplog.text


def test_serving_runs_the_model_on_one_thread_and_restores_torchs_count(vector_shop, behaviour_settings):
    """A one-shopper forward pass runs on one intra-op thread (the pool's spinning workers cost
    Postgres its cores), and the process's thread count is as before afterwards."""
    import torch

    from recommender.behaviour.loading import load_version
    from recommender.behaviour.serving import behaviour_query
    from recommender.training.behaviour.train import train_behaviour

    keys = _wide_shop(vector_shop)
    _events(keys)
    version = train_behaviour(activate=True)
    _view(keys, "fan", ["bag-b", "dress-b"])
    seen: list[int] = []
    hook = load_version(version).model.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert behaviour_query(None, "fan") is not None
        assert seen == [1]
        assert torch.get_num_threads() == 2
    finally:
        hook.remove()
        torch.set_num_threads(previous)


def test_the_models_history_comes_from_the_facts_the_request_read(vector_shop, behaviour_settings):
    """With the shopper's facts (read once per request), the model's history is read from them,
    not again from the events table, and it is the same history; without enough of them, the table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommender.behaviour.serving import recent_history
    from recommender.shoppers import shopper_facts

    keys = _wide_shop(vector_shop)
    names = ["bag-b", "dress-b", "dress-b", "shoes-b", "bag-b"]
    _view(keys, "fan", names)
    later = timezone.now() + timedelta(minutes=1)
    Event.objects.create(type="purchase", session_key="fan", product_key=keys["shoes-b"], created_at=later)
    types = ["view", "add_to_cart", "purchase"]
    from_table = recent_history(None, "fan", types, 10)
    assert [k for k, _ in from_table] == [keys[n] for n in ("bag-b", "dress-b", "shoes-b", "bag-b", "shoes-b")]
    facts = shopper_facts(None, "fan")
    with CaptureQueriesContext(connection) as queries:
        assert recent_history(None, "fan", types, 10, facts) == from_table
    assert len(queries) == 0
    # more rows wanted than the facts hold (and they are not all there are): the table answers
    partial = type(facts)(facts.personalised, facts.bought, facts.recent[:2], recent_complete=False)
    with CaptureQueriesContext(connection) as queries:
        assert recent_history(None, "fan", types, 10, partial) == from_table
    assert len(queries) == 1
