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

pytestmark = pytest.mark.django_db

CYCLE = ["dress-a", "coat-a", "shoes-a", "bag-a"]
SMALL = {"hidden": 16, "layers": 1, "heads": 1, "batch_size": 8, "lr": 1e-2, "dropout": 0.0,
         "feature_dropout": 0.0, "epochs": 12, "patience": 12, "torch_threads": 1, "valid_max_users": 0}  # fmt: skip


@pytest.fixture
def behaviour_settings(settings, tmp_path):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "MODEL_DIR": str(tmp_path / "models"), "BEHAVIOUR": SMALL}
    serving.clear_cache()
    yield tmp_path / "models"
    serving.clear_cache()


def _events(keys: dict[str, str], sessions: int = 40) -> None:
    rng = np.random.default_rng(0)
    start = timezone.now() - timedelta(days=1)
    rows = []
    for s in range(sessions):
        first = int(rng.integers(4))
        for step in range(6):
            name = CYCLE[(first + step) % 4]
            rows.append(Event(type="view", session_key=f"s{s}", product_key=keys[name],
                              created_at=start + timedelta(minutes=10 * s + step), processed=True))  # fmt: skip
    Event.objects.bulk_create(rows)


def _view(keys, session: str, names: list[str]) -> None:
    now = timezone.now()
    Event.objects.bulk_create([
        Event(type="view", session_key=session, product_key=keys[n], created_at=now + timedelta(seconds=i))
        for i, n in enumerate(names)
    ])  # fmt: skip


def _rebuyers(keys: dict[str, str], shoppers: int = 30) -> None:
    """Shoppers who each buy one staple product again and again between views of others.

    Their second-newest product (the validation target) is the staple once more.
    """
    rng = np.random.default_rng(1)
    names = [n for n in keys if n != "dress-out"]
    start = timezone.now() - timedelta(days=2)
    rows = []
    for s in range(shoppers):
        staple = names[int(rng.integers(len(names)))]
        others = [n for n in names if n != staple]
        views = [others[i] for i in rng.choice(len(others), 4, replace=False)]
        plan = [views[0], staple, views[1], staple, views[2], staple, views[3]]
        for step, name in enumerate(plan):
            rows.append(Event(type="purchase" if name == staple else "view", session_key=f"r{s}",
                              product_key=keys[name], created_at=start + timedelta(minutes=10 * s + step),
                              processed=True))  # fmt: skip
    Event.objects.bulk_create(rows)


def _buy_and_view(keys, session: str, plan: list[tuple[str, str]]) -> None:
    now = timezone.now()
    Event.objects.bulk_create([
        Event(type=type_, session_key=session, product_key=keys[n], created_at=now + timedelta(seconds=i))
        for i, (type_, n) in enumerate(plan)
    ])  # fmt: skip


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
    ModelVersion.objects.create(kind=ModelVersion.Kind.BEHAVIOUR, state=ModelVersion.State.READY,
                                metrics={"repurchase_weight": 16.0})  # fmt: skip
    _exclude_purchased(False)
    _buy_and_view(vector_shop, "buyer", [("purchase", "coat-b"), ("view", "dress-a"), ("purchase", "coat-b"),
                                         ("view", "bag-a")])  # fmt: skip
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

    # a shopper who just viewed a dress: the vector (4-d, unit) lies among the coats
    _view(vector_shop, "new", ["bag-b", "dress-b"])
    started = time.perf_counter()
    vector = behaviour_user_vector(None, "new")
    latency = time.perf_counter() - started
    assert vector is not None and vector.shape == (4,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    hits = nearest(vector, k=3)
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
    from recommender.behaviour.tasks import train_behaviour_task
    from recommender.behaviour.train import train_behaviour

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

    from recommender.behaviour.evaluate import BLEND_GRID
    from recommender.behaviour.train import train_behaviour
    from recommender.recommend import recommend

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
    _buy_and_view(vector_shop, "buyer", [("purchase", "coat-b"), ("view", "dress-a"), ("purchase", "coat-b"),
                                         ("view", "bag-a")])  # fmt: skip
    _exclude_purchased(False)
    back = {v: k for k, v in vector_shop.items()}
    recs = recommend("for_you", session_key="buyer", limit=5)
    assert (back[recs.keys[0]], recs.items[0].reason) == ("coat-b", "Buy again"), [back[k] for k in recs.keys]
    # the model's candidates follow, with their own reasons
    model_hits = {k for k, _ in nearest(behaviour_user_vector(None, "buyer"), k=20)}
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
