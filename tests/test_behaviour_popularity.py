"""Recent popularity in "for you": the counts a behaviour version keeps, the weight training tunes on
a time split (and every part re-tuned beside the others), serving it as the offline blend ranks it,
and the model refitted on every event for the epochs validation chose.

Uses the conftest ``vector_shop`` widened with many coats (tests/test_behaviour_shop.py's
``_wide_shop``) and a tiny model. Shoppers buy a coat a day, mostly one new to them; shoes-c was the
hit of the first days and coat-c is this week's: what everybody buys now is not what the whole
history says.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from recommender.behaviour import serving
from recommender.behaviour.config import behaviour_config
from recommender.behaviour.popularity import (
    POPULARITY_FILENAME,
    RecentPopularity,
    load_popularity,
    recent_popularity,
)
from recommender.models import Event
from recommender.training.behaviour.data import EvalSet, Split
from recommender.training.behaviour.evaluate import BLEND_GRID, tune_blend
from recommender.training.behaviour.shop import load_shop
from recommender.training.behaviour.shop_split import shop_split
from recommender.training.behaviour.train import retune_parts, train_behaviour
from tests.conftest import TINY_BEHAVIOUR
from tests.test_behaviour_shop import (
    _diversity_off,
    _events,
    _exclude_purchased,
    _offline_blend,
    _set_weights,
    _wide_shop,
)
from tests.test_served_evaluation import served_at_a_cut

pytestmark = pytest.mark.django_db

SMALL = {**TINY_BEHAVIOUR, "epochs": 6, "patience": 6, "time_split_min_users": 5}
DAY = 86_400.0


def test_recent_popularity_counts_the_window_on_a_log_scale(tmp_path):
    end = 100 * DAY
    sequences = [[0, 1, 2], [1, 2, 3], [2]]
    times = [[end - 8 * DAY, end - 2 * DAY, end - 1], [end - 6 * DAY, end - 3 * DAY, end], [end - 7 * DAY]]
    popular = recent_popularity(sequences, times, end=end, days=7, n_items=5)
    # in [end - 7 days, end): item 0 is older, item 3 at ``end`` itself is not yet counted
    counts = np.array([0, 2, 2, 0, 0], dtype=np.float64)
    counts[2] += 1  # the third shopper's, exactly 7 days back
    assert popular.scores == pytest.approx(np.log1p(counts) / np.log1p(3.0))
    assert popular.top(3).tolist() == [2, 1]  # only positive scores, best first
    assert popular.top(1).tolist() == [2]

    popular.save(tmp_path)
    loaded = load_popularity(tmp_path)
    assert loaded is not None and np.array_equal(loaded.scores, popular.scores)
    assert (loaded.days, loaded.end) == (7.0, end)
    assert load_popularity(tmp_path / "nowhere") is None
    RecentPopularity(np.array([0.5, 1.5], dtype=np.float32), 7.0, end).save(tmp_path)
    with pytest.raises(ValueError, match="popularity scores in 0..1"):
        load_popularity(tmp_path)
    # nothing in the window: all zero, no candidates
    quiet = recent_popularity(sequences, times, end=end - 20 * DAY, days=7, n_items=5)
    assert not quiet.scores.any() and quiet.top(5).tolist() == []


def _trend_shop(keys: dict[str, str], cut, shoppers: int = 40, days: int = 12) -> dict[str, str]:
    """A purchase a day of one of many coats (``_wide_shop``'s), mostly new to the shopper; shoes-c
    bought by most shoppers in the first days. coat-c is this week's hit: bought once by each of
    ``shoppers`` one-off visitors in the three days before the last two, by every other regular
    shopper on the last day (after ``cut``) and by a quarter on the day before: validation days
    (two when training reads every event, the one before ``cut`` when it stops there). One-off visitors have no pair for the
    model or co-occurrence to learn from, so only recent popularity knows the hit. Returns the
    wider shop's keys."""
    keys = _wide_shop(keys)
    fillers = [name for name in keys if name.startswith("coat-f")]
    rng = np.random.default_rng(5)
    rows = []
    for s in range(shoppers):
        old_day = int(rng.integers(4))
        for day in range(days):
            when = cut - timedelta(days=days - 2 - day, hours=int(rng.integers(1, 20)))
            name = fillers[int(rng.integers(len(fillers)))]
            if (day == days - 1 and s % 2) or (day == days - 2 and s % 4 == 0):
                name = "coat-c"
            elif day == old_day and s % 3 != 0:
                name = "shoes-c"
            rows.append(Event(type="purchase", session_key=f"t{s}", product_key=keys[name], created_at=when))
        when = cut - timedelta(days=2 + int(rng.integers(3)), hours=int(rng.integers(1, 20)))
        rows.append(Event(type="purchase", session_key=f"once{s}", product_key=keys["coat-c"], created_at=when))
    Event.objects.bulk_create(rows)
    return keys


def fitted_shop(overrides: dict | None = None):
    """The shop's sequences, their split, a tiny model fitted on it and the training counts: what a
    blend chain is tuned from. Returns (cfg, data, split, model scorer, counts)."""
    from recommender.training.behaviour.baselines import item_counts
    from recommender.training.behaviour.fit import ModelScorer, fit

    cfg = behaviour_config(overrides)
    data = load_shop(cfg)
    split = shop_split(data, cfg)
    model = ModelScorer(fit(data.features, split.train, split.valid, cfg, train_types=split.train_types).model)
    return cfg, data, split, model, item_counts(split.train, data.n_items)


def test_training_tunes_recent_popularity_on_a_time_split_and_saves_what_serving_reads(vector_shop, behaviour_settings):
    cut = timezone.now().replace(microsecond=0) - timedelta(days=1)
    _trend_shop(vector_shop, cut)
    version = train_behaviour(overrides={"valid_days": 2}, activate=True)  # both of the hit's days

    metrics = version.metrics
    assert metrics["validation"]["protocol"] == "time split"
    tuned, weight = metrics["popularity"], metrics["popularity_weight"]
    assert weight in BLEND_GRID and weight > 0 and tuned["weight"] == weight and tuned["days"] == 7.0
    assert tuned["metric"] == "valid_new_map@12" and set(tuned["by_weight"]) == {str(w) for w in BLEND_GRID}
    assert tuned["by_weight"][str(weight)] == max(tuned["by_weight"].values()) > tuned["by_weight"]["0.0"]
    assert metrics["cooccurrence"]["retune_rounds"] >= 1

    # saved: the last 7 days of every event the shop had, validation days included
    data = load_shop(behaviour_config())
    newest = max(times[-1] for times in data.times if times)
    expected = recent_popularity(data.sequences, data.times, end=newest + 1.0, days=7, n_items=data.n_items)
    saved = load_popularity(serving.artifact_path(version))
    assert saved is not None and np.array_equal(saved.scores, expected.scores)
    assert data.item_keys[int(saved.top(1)[0])] == vector_shop["coat-c"]  # this week's hit, not shoes-c

    # served: every product's score, this week's best-sellers as candidates
    query = serving.behaviour_query(None, "t0")
    assert query is not None and query.popularity_weight == weight
    assert query.popular[0] == vector_shop["coat-c"]
    assert query.popularity.get(vector_shop["shoes-c"]) == pytest.approx(
        float(expected.scores[data.item_keys.index(vector_shop["shoes-c"])])
    )
    assert query.popularity.get("not-a-product", 0.0) == 0.0


def test_each_part_is_retuned_beside_the_others_until_none_moves(vector_shop, behaviour_settings):
    """After :func:`retune_parts` stops early, tuning any part again with the others in place
    finds the weight it has: a fixed point of the search."""
    from recommender.training.behaviour.cooccurrence import PopularityScorer, TableScorer, build_table
    from recommender.training.behaviour.train import blend_of, tune_popularity

    cut = timezone.now().replace(microsecond=0) - timedelta(days=1)
    _trend_shop(vector_shop, cut)
    cfg, data, split, model, counts = fitted_shop({"blend_rounds": 5})
    cooc = {"weight": 0.0}
    parts = [(cooc, TableScorer(build_table(split.train, data.n_items)))]
    popularity, popular = tune_popularity(blend_of(model, parts), data, split, cfg, counts)
    parts.append((popularity, PopularityScorer(popular)))

    rounds = retune_parts(model, parts, split, cfg, counts)

    assert 1 <= rounds < 5
    new = split.valid.only_new()
    for i, (info, other) in enumerate(parts):
        rest = blend_of(model, [p for j, p in enumerate(parts) if j != i])
        weight, by_weight = tune_blend(rest, other, new, counts, "map@12", (12,), mask_history=True)
        assert weight == info["weight"]
        assert {str(w): v for w, v in by_weight.items()} == info["by_weight"]


def test_the_chain_is_tuned_beside_popularity_counted_before_validation(vector_shop, behaviour_settings):
    """Every weight tuned after popularity (the re-tune, own purchases, the similarity chosen) sees
    the popularity counted before validation starts; the one counted through the validation days,
    what serving reads, would score validation with its own purchases."""
    from datetime import datetime

    from recommender.training.behaviour.train import served_popularity, tune_blend_chain

    cut = timezone.now().replace(microsecond=0) - timedelta(days=1)
    _trend_shop(vector_shop, cut)
    cfg, data, split, model, counts = fitted_shop()

    info, popular = tune_blend_chain(model, data, split, cfg, counts)["popularity"]

    valid_from = datetime.fromisoformat(split.info["valid_from"]).timestamp()
    before = recent_popularity(data.sequences, data.times, end=valid_from, days=7, n_items=data.n_items)
    assert popular is not None and info["days"] == 7.0
    assert popular.end == valid_from and np.array_equal(popular.scores, before.scores)
    served = served_popularity(data, 7.0)
    assert served.end > valid_from and not np.array_equal(served.scores, before.scores)


def test_leave_last_out_trains_without_popularity(vector_shop, behaviour_settings):
    _events(vector_shop)  # one day of views: too few buyers for a time split
    version = train_behaviour(activate=True)
    assert version.metrics["validation"]["protocol"] == "leave-last-out"
    assert version.metrics["popularity_weight"] == 0.0
    assert "time split" in version.metrics["popularity"]["skipped"]
    assert not (serving.artifact_path(version) / POPULARITY_FILENAME).exists()


def test_for_you_offers_this_weeks_hits_in_the_offline_blend_order(vector_shop, behaviour_settings, caplog):
    from recommender.recommend import recommend
    from recommender.strategies import Context
    from recommender.strategies.personal import for_you
    from recommender.versions import serving_version

    cut = timezone.now().replace(microsecond=0) - timedelta(days=1)
    keys = _trend_shop(vector_shop, cut)
    version = train_behaviour(activate=True)
    _set_weights(version, cooccurrence_weight=0.0, family_weight=0.0, popularity_weight=256.0, repurchase_weight=0.0)
    _exclude_purchased(True)
    _diversity_off()
    back = {v: k for k, v in keys.items()}
    session = "t1"
    query = serving.behaviour_query(None, session)
    assert query is not None and query.popularity_weight == 256.0
    ctx = Context(version=serving_version(), limit=6, session_key=session)
    served = for_you(ctx)
    # popularity this large puts every product bought this week above the model's order
    offline, history = _offline_blend(version, session)
    expected = sorted((c.key for c in served), key=lambda k: -offline[k])
    assert [back[c.key] for c in served] == [back[k] for k in expected]
    assert set(query.popular[: ctx.fetch]) <= {c.key for c in served}

    recs = recommend("for_you", session_key=session, limit=4)
    bought = set(history)
    assert recs.keys == [k for k in expected if k not in bought and k != vector_shop["dress-out"]][:4]

    # weight 0, an unreadable file or none: no popularity, no popular candidates, still served
    folder = serving.artifact_path(version)
    for change in (
        lambda: _set_weights(version, popularity_weight=0.0),
        lambda: ((folder / POPULARITY_FILENAME).write_bytes(b"junk"), _set_weights(version, popularity_weight=256.0)),
        lambda: ((folder / POPULARITY_FILENAME).unlink(), _set_weights(version, popularity_weight=256.0)),
    ):
        change()
        query = serving.behaviour_query(None, session)
        assert query.popularity_weight == 0.0 and not query.popularity and not query.popular
        assert for_you(ctx)
    assert "popularity unreadable" in caplog.text


def test_served_evaluation_with_popularity_equals_the_offline_blend(vector_shop, behaviour_settings):
    report = served_at_a_cut(lambda cut: _trend_shop(vector_shop, cut), diversity_lambda=1.0)

    assert report["version"]["popularity_weight"] > 0
    served, offline = report["all"]["served for you"], report["all"]["offline blend (same version)"]
    assert served["map@12"] > 0
    assert served == offline  # to the last digit
    assert report["new"]["served for you"] == report["new"]["offline blend (same version)"]


def _ordered(histories, types=None) -> np.ndarray:
    return np.tile(np.linspace(1.0, 0.0, 20, dtype=np.float32), (len(histories), 1))


def _flat(histories, types=None) -> np.ndarray:
    return np.ones((len(histories), 20), dtype=np.float32)


def test_a_part_that_changes_no_ranking_keeps_weight_zero():
    """A part adding the same to every product validates alike at every weight: the search keeps
    0 (the grid's first), and :func:`retune_parts` stops after one round."""
    valid = EvalSet([[5], [6], [7]], [[0], [1], [9]])
    split = Split([[1, 2]], valid, valid, info={"protocol": "leave-last-out"})
    info = {"weight": 0.0}
    assert retune_parts(_ordered, [(info, _flat)], split, {**behaviour_config(), "valid_max_users": 0}, None) == 1
    assert info["weight"] == 0.0 and len(set(info["by_weight"].values())) == 1


def test_the_served_model_is_refitted_on_every_event_for_the_epochs_validation_chose(vector_shop, behaviour_settings):
    import torch

    from recommender.behaviour.model import load_artifact
    from recommender.training.behaviour.fit import fit
    from recommender.training.behaviour.train import refit_on_everything

    cut = timezone.now().replace(microsecond=0) - timedelta(days=1)
    _trend_shop(vector_shop, cut)
    version = train_behaviour(activate=False)
    epochs = version.metrics["best_epoch"]
    assert version.metrics["refit"]["epochs"] == epochs > 0

    cfg = behaviour_config()
    data = load_shop(cfg)
    served, keys, _ = load_artifact(serving.artifact_path(version), data.features)
    refit = refit_on_everything(data, cfg, epochs)
    assert keys == data.item_keys and refit.best_epoch == epochs and len(refit.history) == epochs
    assert "valid_ndcg@10" not in refit.history[-1]  # no validation pass
    # the same seed and data: the very weights serving loaded
    for name, weights in refit.model.state_dict().items():
        assert torch.equal(weights, served.state_dict()[name]), name
    # and not the validated model's (the same seed, without validation's purchases)
    split = shop_split(data, cfg)
    validated = fit(data.features, split.train, split.valid, cfg, train_types=split.train_types).model
    assert any(not torch.equal(weights, validated.state_dict()[name]) for name, weights in served.state_dict().items())
    # refit off: the validated model serves
    version = train_behaviour(overrides={"refit": False}, activate=False)
    assert version.metrics["refit"] == {"epochs": 0}
    kept, _, _ = load_artifact(serving.artifact_path(version), data.features)
    for name, weights in validated.state_dict().items():
        assert torch.equal(weights, kept.state_dict()[name]), name
