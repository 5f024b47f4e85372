"""Offline evaluation: full-catalogue ranking of held-out items for the model and every baseline.

    result = evaluate(scorer, split.test, popularity=counts)    # {"recall@10": ..., ...}
    report = run_evaluation("amazon-scientific", data_dir=..., features=...)   # whole report

``scorer(histories, types)`` returns (B, n_items) scores. Metrics: Recall@K, NDCG@K, MRR
(rank of the first relevant item over the full catalogue), MAP@12 (H&M competition),
catalogue coverage of the top 10 over all users, and the popularity bias of the top 10 (mean
popularity percentile of the recommended items: 100 = the most popular item, 50 = median).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recommender.behaviour.data import EvalSet
from recommender.behaviour.metrics import average_precision_at_k, ndcg_at_k, recall_at_k, reciprocal_rank

__all__ = ["BLEND_GRID", "CURVE_KS", "Blend", "OwnPurchases", "evaluate", "popularity_percentiles", "tune_blend"]

# Cut-offs of the "metric by K" plot.
CURVE_KS = (1, 5, 10, 20, 50, 100)


def popularity_percentiles(counts: np.ndarray) -> np.ndarray:
    """Each item's popularity percentile (0..100; ties share the mean rank)."""
    from scipy.stats import rankdata

    return (rankdata(counts, method="average") - 1) / max(len(counts) - 1, 1) * 100.0


def evaluate(
    scorer,
    evalset: EvalSet,
    *,
    ks: Sequence[int] = (10, 50),
    map_k: int = 12,
    counts: np.ndarray | None = None,
    mask_history: bool = False,
    batch_size: int = 256,
    curve: bool = False,
) -> dict[str, Any]:
    """Mean metrics over the users of ``evalset``; ``mask_history`` removes already-seen items."""
    if len(evalset) == 0:
        return {"users": 0}
    top_k = max([*ks, map_k, 10, *(CURVE_KS if curve else ())])
    sums: dict[str, float] = {}
    recommended = set()
    pop_pct = popularity_percentiles(counts) if counts is not None else None
    pop_sum = 0.0

    def add(key: str, value: float) -> None:
        sums[key] = sums.get(key, 0.0) + value

    for start in range(0, len(evalset), batch_size):
        batch = evalset.subset(range(start, min(start + batch_size, len(evalset))))
        scores = np.asarray(scorer(batch.histories, batch.types), dtype=np.float32)
        if mask_history:
            for row, history in enumerate(batch.histories):
                scores[row, history] = -np.inf
        k = min(top_k, scores.shape[1])
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(part, np.argsort(-np.take_along_axis(scores, part, 1), axis=1, kind="stable"), 1)
        for row, targets in enumerate(batch.targets):
            ranked = order[row].tolist()
            # Full-catalogue rank of the best-placed target (strictly higher scores count).
            best = max(scores[row, t] for t in targets)
            first = int((scores[row] > best).sum()) if np.isfinite(best) else None
            add("mrr", reciprocal_rank(first))
            add(f"map@{map_k}", average_precision_at_k(ranked, targets, map_k))
            for cut in sorted(set(ks) | (set(CURVE_KS) if curve else set())):
                add(f"recall@{cut}", recall_at_k(ranked, targets, cut))
                add(f"ndcg@{cut}", ndcg_at_k(ranked, targets, cut))
            recommended.update(ranked[:10])
            if pop_pct is not None:
                pop_sum += float(pop_pct[ranked[:10]].mean())
    n = len(evalset)
    out: dict[str, Any] = {key: value / n for key, value in sums.items()}
    out["users"] = n
    out["coverage@10"] = len(recommended) / scores.shape[1]
    if pop_pct is not None:
        out["popularity_pct@10"] = pop_sum / n
    return out


# --- whole runs: model + baselines on one data set ------------------------------------------------

DATASETS = ("amazon-scientific", "hm", "shop")
# Published numbers on these exact files (RUCAIBox/VQ-Rec README, commit 29818450).
VQREC = {"recall@10": 0.1211, "ndcg@10": 0.0643, "recall@50": 0.2369, "ndcg@50": 0.0897}
HM_VALID_FROM, HM_TEST_FROM, HM_TEST_END = "2020-09-19", "2020-09-20", "2020-09-23"
# Weights of the customer's own purchases added to the model's log-probabilities (tuned on validation).
BLEND_GRID = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


class Blend:
    """log_softmax(model scores) + weight * other scores (own purchases, or a heuristic in 0..1)."""

    def __init__(self, model_scorer, other, weight: float) -> None:
        self.model_scorer, self.other, self.weight = model_scorer, other, weight

    def __call__(self, histories, types=None) -> np.ndarray:
        s = np.asarray(self.model_scorer(histories, types), dtype=np.float64)
        s = s - s.max(axis=1, keepdims=True)
        s = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        if self.weight:
            s = s + self.weight * np.asarray(self.other(histories, types), dtype=np.float64)
        return s.astype(np.float32)


class OwnPurchases:
    """The repurchase part of :class:`~recommender.behaviour.baselines.Repurchase` as a scorer.

    Blended with the model on H&M here, and when a shop model is trained
    (:func:`recommender.behaviour.train.tune_repurchase`); serving adds the same score.
    """

    def __init__(self, repurchase) -> None:
        self.repurchase = repurchase

    def __call__(self, histories, types=None) -> np.ndarray:
        return self.repurchase.own(histories, types)


class RowScaled:
    """A scorer's scores divided by each user's maximum: 0..1, so a blend weight means the same
    for every user (co-occurrence sums grow with the length of the history)."""

    def __init__(self, scorer) -> None:
        self.scorer = scorer

    def __call__(self, histories, types=None) -> np.ndarray:
        s = np.asarray(self.scorer(histories, types), dtype=np.float32)
        return s / np.maximum(s.max(axis=1, keepdims=True), 1e-9)


def tune_blend(
    model_scorer, other, valid: EvalSet, counts, metric: str, ks, *, mask_history: bool = False
) -> tuple[float, dict]:
    """The BLEND_GRID weight with the best validation ``metric``."""
    by_weight = {
        w: evaluate(Blend(model_scorer, other, w), valid, ks=ks, counts=counts, mask_history=mask_history)[metric]
        for w in BLEND_GRID
    }
    return max(by_weight, key=by_weight.get), by_weight


def _evaluate_all(scorers: dict, evalset: EvalSet, counts: np.ndarray, ks, *, mask_history: bool = False) -> dict:
    from tqdm import tqdm

    out = {}
    for name, scorer in tqdm(scorers.items(), desc="Evaluating", leave=False):
        out[name] = evaluate(scorer, evalset, ks=ks, counts=counts, mask_history=mask_history, curve=True)
    return out


def hm_split(folder, item_keys: list[str], features: np.ndarray):
    """(data, split, counts) of the H&M time split; ``counts`` is the popularity of the week
    before the validation day (the competition's strong baseline)."""
    from recommender.behaviour import data as D
    from recommender.behaviour.baselines import item_counts

    data, timed = D.load_hm(folder, item_keys, features)
    split = D.time_split(timed, split_time=HM_TEST_FROM, valid_time=HM_VALID_FROM, end_time=HM_TEST_END)
    recent = [[i for t, i in rows if "2020-09-12" <= t < HM_VALID_FROM] for rows in timed.values()]
    return data, split, item_counts(recent, data.n_items)


def hm_blends(model_scorer, split, counts: np.ndarray, cooc) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's H&M blends by name, and the weights chosen on the validation day.

    Own purchases are weighted on all validation articles (MAP@12); co-occurrence ("bought with
    what you bought"), what the customer has not bought yet, on the validation day's new
    articles with the history masked; the full blend adds own purchases to the latter.
    """
    from recommender.behaviour.baselines import Repurchase

    ks = (12,)
    own = OwnPurchases(Repurchase(counts))
    best_w, by_weight = tune_blend(model_scorer, own, split.valid, counts, "map@12", ks)
    cooc = RowScaled(cooc)
    best_c, by_c = tune_blend(model_scorer, cooc, split.valid.only_new(), counts, "map@12", ks, mask_history=True)
    model_cooc = Blend(model_scorer, cooc, best_c)
    best_wc, by_wc = tune_blend(model_cooc, own, split.valid, counts, "map@12", ks)
    chosen = {
        "blend": {"with": "own purchases (recency-decayed)", "valid_map@12_by_weight": by_weight, "weight": best_w},
        "blend_cooc": {"with": "item co-occurrence kNN (row-scaled)", "valid_new_map@12_by_weight": by_c,
                       "weight": best_c, "repurchase_weight": best_wc, "valid_map@12_by_repurchase_weight": by_wc},
    }  # fmt: skip
    scorers = {
        "behaviour model + co-occurrence + repurchase (blend)": Blend(model_cooc, own, best_wc),
        "behaviour model + repurchase (blend)": Blend(model_scorer, own, best_w),
        "behaviour model + co-occurrence (blend)": model_cooc,
    }
    return scorers, chosen


def run_evaluation(
    dataset: str,
    *,
    features: np.ndarray | None = None,
    item_keys: list[str] | None = None,
    data_dir: str | None = None,
    overrides: dict | None = None,
    progress: bool = False,
    on_epoch=None,
) -> dict[str, Any]:
    """Train the model and score it and every baseline on ``dataset``; a JSON-ready report.

    ``amazon-scientific`` and ``hm`` read the RecBole / H&M files in ``data_dir`` with
    ``features`` (item vectors in item-index / ``item_keys`` order); ``shop`` reads this shop's
    events and the serving encoder's vectors (leave-one-out).
    """
    from pathlib import Path

    from recommender.behaviour import data as D
    from recommender.behaviour.baselines import item_counts, standard_baselines
    from recommender.behaviour.config import behaviour_config
    from recommender.behaviour.train import ModelScorer, fit

    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; choose one of {DATASETS}")
    cfg = behaviour_config(overrides)
    report: dict[str, Any] = {"dataset": dataset, "config": cfg}
    if dataset == "amazon-scientific":
        if features is None:
            raise ValueError("Amazon: pass the item text vectors (bench/behaviour_vectors.py makes them).")
        data = D.load_amazon_scientific(Path(data_dir), features)
    elif dataset == "hm":
        data, split, counts = hm_split(Path(data_dir), list(item_keys), features)
    else:
        data = D.load_shop(cfg)
    if dataset != "hm":
        split = D.leave_one_out(data.sequences, data.types)
        counts = item_counts(split.train, data.n_items)
    report["data"] = {
        "users": len(data.sequences), "items": data.n_items, "interactions": sum(map(len, data.sequences)),
        "train_sequences": len(split.train), "valid_users": len(split.valid), "test_users": len(split.test),
        "feature_dim": int(data.features.shape[1]), **split.info,
    }  # fmt: skip
    result = fit(data.features, split.train, split.valid, cfg, train_types=split.train_types, progress=progress,
                 on_epoch=on_epoch)  # fmt: skip
    report["training"] = {
        "seconds": round(result.seconds, 1), "best_epoch": result.best_epoch, "epochs_run": len(result.history),
        "device": result.device, "history": result.history, "best_valid": result.best_valid,
    }  # fmt: skip
    model_scorer = ModelScorer(result.model)
    scorers = {"behaviour model": model_scorer, **standard_baselines(split.train, data.features, data.n_items, counts)}
    ks = (10, 50) if dataset != "hm" else (12,)
    if dataset == "hm":
        blends, chosen = hm_blends(model_scorer, split, counts, scorers["item co-occurrence kNN"])
        report.update(chosen)
        scorers = {**blends, **scorers}
        report["test_all"] = _evaluate_all(scorers, split.test, counts, ks)
        report["test_new"] = _evaluate_all(scorers, split.test.only_new(), counts, ks, mask_history=True)
        report["data"]["test_users_new"] = len(split.test.only_new())
    else:
        # What serving ranks by: the model plus item co-occurrence of the shopper's recent items.
        cooc = RowScaled(scorers["item co-occurrence kNN"])
        best_w, by_weight = tune_blend(model_scorer, cooc, split.valid, counts, "ndcg@10", ks)
        report["blend"] = {"with": "item co-occurrence kNN (row-scaled)", "valid_ndcg@10_by_weight": by_weight,
                           "weight": best_w}  # fmt: skip
        scorers = {"behaviour model + co-occurrence (blend)": Blend(model_scorer, cooc, best_w), **scorers}
        report["test"] = _evaluate_all(scorers, split.test, counts, ks)
        report["valid_model"] = evaluate(model_scorer, split.valid, ks=ks, counts=counts)
    if dataset == "amazon-scientific":
        report["published"] = {"VQ-Rec (paper, same files)": VQREC}
    report["model"] = result.model
    return report


def write_report(report: dict[str, Any], folder, prefix: str, *, title: str = "") -> dict[str, str]:
    """``<prefix>.json``, ``<prefix>.md``, ``<prefix>_epochs.png``, ``<prefix>_by_k.png`` in ``folder``."""
    import json
    from pathlib import Path

    from recommender.behaviour.plots import plot_by_k, plot_epochs

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in report.items() if k != "model"}
    paths = {"json": folder / f"{prefix}.json", "md": folder / f"{prefix}.md"}
    paths["json"].write_text(json.dumps(clean, indent=2, default=str) + "\n")
    paths["md"].write_text(markdown(clean, title=title))
    paths["epochs"] = plot_epochs(clean["training"]["history"], folder / f"{prefix}_epochs.png", title=title)
    main = clean.get("test") or clean.get("test_all")
    paths["by_k"] = plot_by_k(main, folder / f"{prefix}_by_k.png", title=title)
    return {k: str(v) for k, v in paths.items()}


def _table(results: dict[str, dict], columns: list[str], extra: dict[str, dict] | None = None) -> list[str]:
    lines = ["| model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in {**results, **(extra or {})}.items():
        cells = [f"{values[c]:.4f}" if isinstance(values.get(c), float) else str(values.get(c, "")) for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown(report: dict[str, Any], *, title: str = "") -> str:
    lines = [f"# {title or 'Behaviour model: ' + report['dataset']}", ""]
    d, t = report["data"], report["training"]
    lines += ["Data: " + ", ".join(f"{k} {v}" for k, v in d.items()), ""]
    lines += [f"Training: {t['seconds']} s on {t['device']}, best epoch {t['best_epoch']} of {t['epochs_run']}.", ""]
    if "test" in report:
        cols = ["recall@10", "ndcg@10", "recall@50", "ndcg@50", "mrr", "coverage@10", "popularity_pct@10"]
        lines += ["## Test (leave-one-out, full ranking)", ""]
        lines += _table(report["test"], cols, report.get("published"))
        if report.get("blend"):
            lines += ["", f"Blend (tuned on validation): {report['blend']}"]
    else:
        cols = ["map@12", "recall@12", "ndcg@12", "mrr", "coverage@10", "popularity_pct@10"]
        lines += [f"Blend weight of own purchases (validation MAP@12): {report['blend']}", ""]
        if report.get("blend_cooc"):
            lines += [f"Co-occurrence blend (validation MAP@12 on new articles): {report['blend_cooc']}", ""]
        lines += ["## Test: all purchased articles", ""] + _table(report["test_all"], cols)
        lines += ["", "## Test: only articles new to the customer (history masked)", ""]
        lines += _table(report["test_new"], cols)
    return "\n".join(lines) + "\n"
