"""Behaviour model without the database: metrics on hand-computed cases, splits, baselines, training.

Every expected number below is worked out on paper in the comment next to it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from recommender.behaviour.config import DEFAULTS, behaviour_config, hyperparameters
from recommender.training.behaviour.baselines import CoocKNN, Popularity, Repurchase, Transitions, item_counts
from recommender.training.behaviour.data import EvalSet, leave_last_out, leave_one_out, time_split
from recommender.training.behaviour.evaluate import evaluate
from recommender.training.behaviour.metrics import average_precision_at_k, ndcg_at_k, recall_at_k, reciprocal_rank

# --- settings -----------------------------------------------------------------------------------


def test_behaviour_settings_are_read_through_app_settings(settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "BEHAVIOUR": {"epochs": 7}}
    assert behaviour_config()["epochs"] == 7 and behaviour_config()["hidden"] == DEFAULTS["hidden"]
    assert behaviour_config({"epochs": 2})["epochs"] == 2  # the caller wins
    settings.RECOMMENDER = {**settings.RECOMMENDER, "BEHAVIOUR": {"epochs": 9}}
    assert behaviour_config()["epochs"] == 9  # read on each call, never cached stale
    settings.RECOMMENDER = {**settings.RECOMMENDER, "BEHAVIOUR": "fast"}
    with pytest.raises(ImproperlyConfigured, match=r'RECOMMENDER\["BEHAVIOUR"\] must be a dict'):
        behaviour_config()
    settings.RECOMMENDER = {**settings.RECOMMENDER, "BEHAVIOUR": {"epochz": 1}}
    with pytest.raises(ValueError, match="epochz"):
        behaviour_config()


def test_hyperparameters_without_django_settings_reject_unknown_keys():
    assert hyperparameters({"epochs": 3}, {"hidden": 8}) == {**DEFAULTS, "epochs": 3, "hidden": 8}
    with pytest.raises(ValueError, match="hiden"):
        hyperparameters({"hiden": 8})


# --- metrics ------------------------------------------------------------------------------------


def test_recall_and_ndcg_single_target():
    ranked = [5, 3, 9, 1]
    assert recall_at_k(ranked, [9], 2) == 0.0
    assert recall_at_k(ranked, [9], 3) == 1.0
    # hit at rank 3 (index 2): 1/log2(4) = 0.5; ideal 1/log2(2) = 1
    assert ndcg_at_k(ranked, [9], 3) == pytest.approx(0.5)
    assert ndcg_at_k(ranked, [5], 10) == pytest.approx(1.0)
    assert ndcg_at_k(ranked, [7], 10) == 0.0


def test_ndcg_and_recall_several_targets():
    ranked = [1, 2, 3, 4]
    # hits at ranks 1 and 3: (1 + 1/log2(4)) / (1 + 1/log2(3))
    expected = (1 + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(ranked, [1, 3], 4) == pytest.approx(expected)
    assert recall_at_k(ranked, [1, 3, 8], 4) == pytest.approx(2 / 3)


def test_reciprocal_rank():
    assert reciprocal_rank(0) == 1.0
    assert reciprocal_rank(3) == 0.25
    assert reciprocal_rank(None) == 0.0


def test_map_at_12_matches_the_competition_definition():
    # hits at ranks 1 and 3 of 3 targets: (1/1 + 2/3) / min(3, 12)
    assert average_precision_at_k([7, 1, 8, 2], [7, 8, 9], 12) == pytest.approx((1 + 2 / 3) / 3)
    # a hit beyond 12 does not count
    assert average_precision_at_k(list(range(20)), [15], 12) == 0.0
    # 13 targets, all in the top 12: every precision is 1, divided by min(13, 12) = 12
    assert average_precision_at_k(list(range(12)), list(range(13)), 12) == pytest.approx(1.0)


def test_evaluate_ranks_the_full_catalogue():
    scores = np.array([[0.1, 0.9, 0.5, 0.3], [0.8, 0.1, 0.2, 0.7]], dtype=np.float32)

    def scorer(histories, types=None):
        return scores[: len(histories)]

    evalset = EvalSet(histories=[[0], [1]], targets=[[2], [3]])
    out = evaluate(scorer, evalset, ks=(1, 2))
    # user 0: target 2 at rank 2; user 1: target 3 at rank 2
    assert out["recall@1"] == 0.0
    assert out["recall@2"] == 1.0
    assert out["mrr"] == pytest.approx(0.5)
    assert out["ndcg@2"] == pytest.approx(1 / math.log2(3))
    # masking the history: user 1 loses item 1 (not in top 2 anyway), user 0 loses item 0
    masked = evaluate(scorer, EvalSet([[1], [0]], [[2], [3]]), ks=(1,), mask_history=True)
    assert masked["recall@1"] == 1.0  # item 1 and item 0 masked: targets come first


# --- splits: no leakage ---------------------------------------------------------------------------


def test_leave_one_out_never_trains_on_held_out_targets():
    sequences = [[1, 2, 3, 4, 5], [6, 7, 8], [9, 10], [11, 12, 13, 14]]
    split = leave_one_out(sequences)
    assert split.train == [[1, 2, 3], [6], [9, 10], [11, 12]]
    assert split.valid.targets == [[4], [7], [13]] and split.test.targets == [[5], [8], [14]]
    assert split.valid.histories == [[1, 2, 3], [6], [11, 12]]
    assert split.test.histories == [[1, 2, 3, 4], [6, 7], [11, 12, 13]]
    for row, user in enumerate([0, 1, 3]):
        # the held-out positions are not in the training sequence of that user
        assert len(split.train[user]) == len(sequences[user]) - 2
        assert split.valid.targets[row][0] == sequences[user][-2]


def test_leave_last_out_validates_on_the_newest_product_and_trains_on_the_rest():
    sequences = [[1, 2, 3, 4, 5], [6, 7, 8], [9, 10], [11, 12, 13, 14]]
    types = [[3] * len(seq) for seq in sequences]
    split = leave_last_out(sequences, types)
    assert split.train == [[1, 2, 3, 4], [6, 7], [9, 10], [11, 12, 13]]
    assert split.valid.histories == [[1, 2, 3, 4], [6, 7], [11, 12, 13]]
    assert split.valid.targets == [[5], [8], [14]]
    assert split.test is split.valid and split.info["protocol"] == "leave-last-out"
    assert split.train_types == [[3] * 4, [3] * 2, [3] * 2, [3] * 3]


def test_leave_one_out_on_the_amazon_files(tmp_path):
    from tests.conftest import SHARED_DATA

    folder = SHARED_DATA / "amazon_scientific"
    if not (folder / "Scientific.seq.tsv").exists():
        pytest.skip(f"Amazon Scientific data not found at {folder}")
    from bench.datasets import load_amazon_scientific

    data = load_amazon_scientific(folder)
    split = leave_one_out(data.sequences)
    assert (data.n_items, len(data.sequences), sum(map(len, data.sequences))) == (4385, 8442, 59427)
    assert sum(map(len, split.train)) == 59427 - 2 * 8442
    # the RecBole files: every validation/test row equals ours (last <= 50 items of the history)
    for name, evalset in (("valid", split.valid), ("test", split.test)):
        with open(folder / f"Scientific.{name}.inter") as handle:
            next(handle)
            rows = {}
            for line in handle:
                user, history, target = line.rstrip("\n").split("\t")
                rows[user] = ([int(x) for x in history.split()], int(target))
        for user, history, target in zip(data.user_keys, evalset.histories, evalset.targets, strict=True):
            assert rows[user] == (history[-50:], target[0])
    # no training prefix of a user ends in (i.e. predicts) that user's valid or test target position
    for seq, train in zip(data.sequences, split.train, strict=True):
        assert train == seq[:-2]


def test_time_split_keeps_the_periods_apart():
    timed = {
        "a": [("2020-09-01", 1), ("2020-09-10", 2), ("2020-09-19", 3), ("2020-09-20", 4), ("2020-09-21", 1)],
        "b": [("2020-09-20", 5)],  # no history before the split: not evaluated
        "c": [("2020-09-02", 6), ("2020-09-19", 7)],
    }
    split = time_split(timed, split_time="2020-09-20", valid_time="2020-09-19")
    assert split.train == [[1, 2]]  # c has one item before the validation day
    assert split.valid.histories == [[1, 2], [6]] and split.valid.targets == [[3], [7]]
    assert split.test.histories == [[1, 2, 3]] and split.test.targets == [[4, 1]]
    new = split.test.only_new()
    assert new.targets == [[4]]
    trained = {item for seq in split.train for item in seq}
    assert not trained & {3, 4, 5, 7}


# --- baselines ------------------------------------------------------------------------------------


def test_baselines_on_a_tiny_log():
    train = [[0, 1, 2], [0, 1, 3], [4, 1, 2]]
    counts = item_counts(train, 5)
    assert counts.tolist() == [2, 3, 2, 1, 1]
    assert int(np.argmax(Popularity(counts)([[4]])[0])) == 1
    # after 1 came 2 twice and 3 once
    t = Transitions(train, 5, counts)([[0, 1]])[0]
    assert np.argsort(-t)[:2].tolist() == [2, 3]
    # own items first, newest first
    r = Repurchase(counts)([[3, 4]])[0]
    assert np.argsort(-r)[:3].tolist() == [4, 3, 1]
    # 0 co-occurs with 1 twice: cosine 2 / sqrt(2 * 3)
    c = CoocKNN(train, 5, counts)([[0]])[0]
    assert c[1] == pytest.approx(2 / math.sqrt(6), rel=1e-4)


def test_own_purchases_count_only_purchases_newest_first():
    from recommender.behaviour.codes import EVENT_TYPES
    from recommender.behaviour.repurchase import own_purchase_scores, repeat_purchases

    # distinct items by their newest purchase: c (1.0), a (0.9), b (0.9 ** 2)
    assert own_purchase_scores(["a", "b", "a", "c"]) == pytest.approx({"c": 1.0, "a": 0.9, "b": 0.81})
    view, buy = EVENT_TYPES["view"], EVENT_TYPES["purchase"]
    # bought 2, viewed 3, bought 1: 1 -> 1.0, 2 -> 0.9, the viewed 3 -> 0
    assert Repurchase(np.ones(5)).own([[2, 3, 1]], [[buy, view, buy]])[0].tolist() == pytest.approx([0, 1, 0.9, 0, 0])
    # without types (H&M) every history item is a purchase
    assert Repurchase(np.ones(5)).own([[2, 3, 1]])[0].tolist() == pytest.approx([0, 1, 0.81, 0.9, 0])
    # a repeat is a second purchase of one item; buying then viewing it is not
    assert repeat_purchases([[1, 2, 1], [3, 4, 3]], [[buy, view, buy], [buy, view, view]]) == 1
    assert repeat_purchases([[1, 2, 1, 2, 1]]) == 3
    assert repeat_purchases([[1, 2, 3]], [[buy, buy, buy]]) == 0


@pytest.mark.django_db
def test_served_own_purchases_rank_one_orders_products_as_training_reads_them():
    """Purchases of one order share a timestamp: the later-recorded one is the newer, as in the
    (time, id) order training reads, never the product key's order."""
    from datetime import UTC, datetime

    from recommender.behaviour.repurchase import own_purchase_scores
    from recommender.behaviour.serving import own_purchases
    from recommender.models import Event

    day1, day2 = datetime(2020, 9, 1, 12, tzinfo=UTC), datetime(2020, 9, 2, 12, tzinfo=UTC)
    bought = [(day1, "p-3"), (day1, "p-1"), (day1, "p-2"), (day2, "p-5"), (day2, "p-3"), (day2, "p-4")]
    Event.objects.bulk_create(
        [Event(type="purchase", session_key="s-1", product_key=key, created_at=at) for at, key in bought]
        + [Event(type="view", session_key="s-1", product_key="p-9", created_at=day2)]
    )
    as_trained = Event.objects.filter(session_key="s-1", type="purchase").order_by("created_at", "pk")
    expected = own_purchase_scores(as_trained.values_list("product_key", flat=True))
    assert own_purchases(None, "s-1") == pytest.approx(expected)
    # newest first: p-4, p-3 (bought again on day 2), p-5, then day 1's p-2 and p-1
    assert sorted(expected, key=expected.get, reverse=True) == ["p-4", "p-3", "p-5", "p-2", "p-1"]


def test_serving_blend_orders_like_the_offline_blend():
    """cos + (w / |q|) · own (serving, pgvector units) ranks like log_softmax(q · x + c) + w · own."""
    from recommender.behaviour.serving import BehaviourQuery, blend_scores
    from recommender.training.behaviour.evaluate import Blend

    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # stored product vectors are unit length
    q = rng.normal(size=8)
    q *= 7.5 / np.linalg.norm(q)  # |q| far from 1, so the scale matters
    own = np.zeros(60)
    own[[3, 10, 42, 55]] = [1.0, 0.9, 0.81, 0.729]
    weight = 2.0
    offline = Blend(lambda h, t=None: (x @ q + 2.0)[None], lambda h, t=None: own[None], weight)([[0]])[0]
    query = BehaviourQuery((q / np.linalg.norm(q)).astype(np.float32), float(np.linalg.norm(q)), weight)
    similarities = {str(i): float(x[i] @ query.vector) for i in range(60)}  # what pgvector returns
    served = blend_scores(query, similarities, {str(i): float(own[i]) for i in np.flatnonzero(own)})
    assert [int(k) for k, _ in served] == np.argsort(-offline, kind="stable").tolist()
    # the purchases do not simply all come first: the model's scores still count
    assert sorted(int(k) for k, _ in served[:4]) != [3, 10, 42, 55]


# --- training ---------------------------------------------------------------------------------------


def test_training_learns_a_deterministic_next_item_pattern():
    """Item i is always followed by (7 i + 3) mod 30: the model must find the successor."""
    from recommender.training.behaviour.fit import ModelScorer, fit

    rng = np.random.default_rng(0)
    n = 30
    features = rng.normal(size=(n, 8)).astype(np.float32)
    sequences = []
    for _ in range(160):
        seq = [int(rng.integers(n))]
        for _ in range(int(rng.integers(4, 7))):
            seq.append((seq[-1] * 7 + 3) % n)
        sequences.append(seq)
    split = leave_one_out(sequences)
    cfg = {
        **DEFAULTS,
        "epochs": 6,
        "hidden": 32,
        "layers": 1,
        "heads": 1,
        "batch_size": 16,
        "lr": 5e-3,
        "dropout": 0.0,
        "feature_dropout": 0.0,
        "patience": 6,
        "valid_max_users": 0,
        "torch_threads": 1,
    }
    result = fit(features, split.train, split.valid, cfg)
    test = evaluate(ModelScorer(result.model), split.test, ks=(1, 10))
    assert test["recall@1"] > 0.8  # chance: 1/30
    assert result.history[0]["train_loss"] > result.history[-1]["train_loss"]
    assert 1 <= result.best_epoch <= len(result.history)


def test_stored_output_vectors_rank_like_the_model():
    """cos(h, o_i) over the output vectors serving stores orders items exactly like the model's scores;
    an item the model never saw (index 0) gets its output vector from its features alone."""
    import torch

    from recommender.behaviour.model import BehaviourModel, pad_left

    rng = np.random.default_rng(1)
    features = rng.normal(size=(40, 12)).astype(np.float32)
    torch.manual_seed(0)
    model = BehaviourModel(features, {**DEFAULTS, "hidden": 16, "layers": 1, "heads": 1}).eval()
    with torch.no_grad():
        model.item_id.weight[1:].normal_()  # trained-looking IDs (row 0, padding, stays zero)
        items, types = pad_left([[3, 5, 7], [1]], 50)
        scores = model.scores(items, types).numpy()
        state = model.user_state(items, types).numpy()
        stored = model.output_vectors(torch.from_numpy(features), torch.arange(1, 41)).numpy()
        unseen = model.output_vectors(torch.from_numpy(features[:1]), torch.tensor([0])).numpy()
        features_only = model.out_adapter(torch.from_numpy(features[:1])).numpy()
    unit = state / np.linalg.norm(state, axis=1, keepdims=True)
    cosines = unit @ (stored / np.linalg.norm(stored, axis=1, keepdims=True)).T
    np.testing.assert_allclose(cosines / model.temperature, scores, rtol=1e-4, atol=1e-4)
    for row in range(2):
        assert np.argsort(-scores[row]).tolist() == np.argsort(-cosines[row]).tolist()
    np.testing.assert_allclose(unseen, features_only, atol=1e-6)
    assert not np.allclose(stored[0], features_only[0], atol=1e-3)


def test_model_rejects_settings_serving_cannot_honour():
    from recommender.behaviour.model import BehaviourModel

    features = np.ones((3, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="temperature must be positive"):
        BehaviourModel(features, {**DEFAULTS, "temperature": 0})
    with pytest.raises(ValueError, match="needs id_embedding"):
        BehaviourModel(features, {**DEFAULTS, "id_embedding": False, "output_id": "tied"})
    with pytest.raises(ValueError, match="output_id must be"):
        BehaviourModel(features, {**DEFAULTS, "output_id": "separate"})


def test_row_scaled_puts_every_users_scores_in_zero_to_one():
    from recommender.training.behaviour.evaluate import RowScaled

    def raw(histories, types=None):
        return np.array([[0.0, 2.0, 4.0], [0.0, 0.0, 0.0], [3.0, 30.0, 0.0]], dtype=np.float32)

    scaled = RowScaled(raw)([[0], [1], [2]])
    assert np.allclose(scaled, [[0.0, 0.5, 1.0], [0.0, 0.0, 0.0], [0.1, 1.0, 0.0]])


# --- item co-occurrence table (what a behaviour version serves) -------------------------------------

# 8 items in 7 shoppers' histories: 0 and 1 share three shoppers, 3 and 7 two, 4 and 6 none.
COOC_TRAIN = [[0, 1, 2], [0, 1, 3], [4, 1, 2], [5, 6, 0], [2, 3, 5, 7], [6, 0, 1], [7, 3]]
COOC_HISTORIES = [[0], [1, 2], [3, 0, 1, 5], [6, 4], [2, 7, 3, 0, 1, 5, 6]]


def _ranking(scores: np.ndarray, counts: np.ndarray) -> list[int]:
    """Items with a score, best first; ties (to 5 decimals) broken by popularity, as CoocKNN does."""
    return sorted(np.flatnonzero(scores > 1e-4).tolist(), key=lambda i: (-round(float(scores[i]), 5), -counts[i], i))


def test_cooccurrence_table_scores_like_row_scaled_cooc_knn():
    from recommender.training.behaviour.cooccurrence import TableScorer, build_table
    from recommender.training.behaviour.evaluate import RowScaled

    counts = item_counts(COOC_TRAIN, 8)
    knn = CoocKNN(COOC_TRAIN, 8, counts)
    offline = RowScaled(knn)(COOC_HISTORIES)
    table = build_table(COOC_TRAIN, 8, neighbours=8)  # every neighbour kept
    assert (table.recent, table.decay) == (knn.recent, knn.decay)
    served = TableScorer(table)(COOC_HISTORIES)
    assert served.shape == (5, 8) and served.max(axis=1) == pytest.approx(np.ones(5))
    # equal up to CoocKNN's popularity tie-breaker (1e-6), and ranked alike
    assert np.abs(served - offline).max() < 1e-5, knn.S.toarray().round(3)
    for row in range(len(COOC_HISTORIES)):
        assert _ranking(served[row], counts) == _ranking(offline[row], counts), row
    # 0 and 1 share three of their shoppers (0: 4, 1: 4): cosine 3 / 4; after a single 0 it is the best
    items, scores = table.scores([0])
    assert items[0] == 1 and knn.S[0, 1] == pytest.approx(0.75) and scores[0] == 1.0
    # newest distinct items first, decay 0.7: [1, 2] sums S[2] + 0.7 S[1], scaled by its maximum
    raw = knn.S.toarray()[2] + 0.7 * knn.S.toarray()[1]
    assert served[1] == pytest.approx(raw / raw.max(), abs=1e-6)
    # products the version never saw (-1) are ignored; an empty history scores nothing
    assert table.scores([-1, 0])[0].tolist() == items.tolist()
    assert table.scores([])[0].size == 0


def test_count_similarity_counts_the_shoppers_of_each_pair():
    from recommender.training.behaviour.cooccurrence import build_table

    counts = item_counts(COOC_TRAIN, 8)
    cosine = CoocKNN(COOC_TRAIN, 8, counts).S.toarray()
    count = CoocKNN(COOC_TRAIN, 8, counts, similarity="count").S.toarray()
    shoppers = np.zeros((8, 8))
    for seq in COOC_TRAIN:
        for a in set(seq):
            for b in set(seq) - {a}:
                shoppers[a, b] += 1
    assert np.array_equal(count, shoppers)
    # the same pairs, weighed differently: cosine divides by both items' shoppers
    assert np.array_equal(count > 0, cosine > 0)
    assert cosine[0, 1] == pytest.approx(count[0, 1] / np.sqrt(counts_of(COOC_TRAIN, 0) * counts_of(COOC_TRAIN, 1)))
    table = build_table(COOC_TRAIN, 8, neighbours=8, similarity="count")
    for item in range(8):
        neighbours, similarities = table.neighbours(item)
        assert similarities.tolist() == sorted(count[item][count[item] > 0].tolist(), reverse=True)
        assert set(neighbours.tolist()) == set(np.flatnonzero(count[item]).tolist())
    with pytest.raises(ValueError, match="Unknown co-occurrence similarity"):
        CoocKNN(COOC_TRAIN, 8, counts, similarity="jaccard")


def counts_of(sequences, item: int) -> int:
    """How many sequences hold ``item``."""
    return sum(1 for seq in sequences if item in seq)


def test_cooccurrence_table_keeps_each_items_top_neighbours(tmp_path):
    from recommender.behaviour.cooccurrence import FILENAME, load_table
    from recommender.training.behaviour.cooccurrence import TableScorer, build_table

    S = CoocKNN(COOC_TRAIN, 8, item_counts(COOC_TRAIN, 8)).S.toarray()
    full = build_table(COOC_TRAIN, 8, neighbours=8)
    table = build_table(COOC_TRAIN, 8, neighbours=2)
    assert table.pairs == 16 < full.pairs
    for item in range(8):
        neighbours, similarities = table.neighbours(item)
        best = sorted(np.flatnonzero(S[item]).tolist(), key=lambda j: (-S[item, j], j))[:2]
        assert neighbours.tolist() == best, item
        assert similarities == pytest.approx(S[item, best])
    # 2's most similar are 1 and 4 (a tie at 1 / sqrt(3)): the lower index first, 0.408 ones cut
    assert table.neighbours(2)[0].tolist() == [1, 4]
    # a one-item history scores exactly its kept neighbours, with the full table's scores
    truncated, complete = TableScorer(table)([[5]])[0], TableScorer(full)([[5]])[0]
    kept = table.neighbours(5)[0]
    assert np.flatnonzero(truncated).tolist() == sorted(kept.tolist())
    assert truncated[kept] == pytest.approx(complete[kept])

    assert load_table(tmp_path) is None  # a version trained without a table
    table.save(tmp_path)
    loaded = load_table(tmp_path)
    assert loaded is not None and (loaded.recent, loaded.decay, loaded.n_items) == (5, 0.7, 8)
    assert TableScorer(loaded)(COOC_HISTORIES) == pytest.approx(TableScorer(table)(COOC_HISTORIES))
    np.savez(
        tmp_path / FILENAME,
        indptr=np.array([0, 5]),
        indices=np.array([9]),
        similarities=np.array([1.0]),
        recent=np.int64(5),
        decay=np.float64(0.7),
    )
    with pytest.raises(ValueError, match="valid neighbour table"):
        load_table(tmp_path)


def test_cooccurrence_tuning_is_skipped_when_nothing_co_occurs():
    from recommender.training.behaviour.data import leave_one_out
    from recommender.training.behaviour.train import tune_cooccurrence

    def never(histories, types=None):  # no validation pass may run
        raise AssertionError("scored without co-occurrence")

    split = leave_one_out([[0, 1, 2], [3, 4, 5]])  # each shopper keeps one training item
    tuned, table = tune_cooccurrence(never, split, {**DEFAULTS, "valid_max_users": 0}, item_counts(split.train, 6))
    assert table is None and tuned["weight"] == 0.0 and tuned["pairs"] == 0 and "by_weight" not in tuned


def test_serving_blend_with_cooccurrence_orders_like_the_offline_blend():
    """cos + (w_c / |q|) · cooc + (w_r / |q|) · own ranks like Blend(Blend(model, cooc, w_c), own, w_r)."""
    from recommender.behaviour.serving import BehaviourQuery, blend_scores
    from recommender.training.behaviour.evaluate import Blend

    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = rng.normal(size=8)
    q *= 6.0 / np.linalg.norm(q)
    cooc = np.zeros(80)
    cooc[rng.choice(80, 12, replace=False)] = rng.uniform(0.05, 1.0, 12)
    cooc[np.argmax(cooc)] = 1.0
    own = np.zeros(80)
    own[[7, 21, 64]] = [1.0, 0.9, 0.81]
    w_c, w_r = 4.0, 2.0
    model = Blend(lambda h, t=None: (x @ q - 1.5)[None], lambda h, t=None: cooc[None], w_c)
    offline = Blend(model, lambda h, t=None: own[None], w_r)([[0]])[0]
    unit = (q / np.linalg.norm(q)).astype(np.float32)
    scores = {str(i): float(cooc[i]) for i in np.flatnonzero(cooc)}
    query = BehaviourQuery(unit, float(np.linalg.norm(q)), w_r, w_c, scores)
    similarities = {str(i): float(x[i] @ unit) for i in range(80)}  # what pgvector returns
    purchased = {str(i): float(own[i]) for i in (7, 21, 64)}
    served = blend_scores(query, similarities, purchased)
    assert [int(k) for k, _ in served] == np.argsort(-offline, kind="stable").tolist()
    # co-occurrence moves products: without it (weight 0) the order is another one
    plain = blend_scores(BehaviourQuery(unit, query.scale, w_r, 0.0, scores), similarities, purchased)
    assert [k for k, _ in plain] != [k for k, _ in served]
