"""The behaviour benchmarks' whole runs on public data (outside the app): Amazon "Scientific" and H&M.

    report = run_amazon(DATA / "amazon_scientific", features, cfg)           # leave-one-out + VQ-Rec's numbers
    report = run_hm(DATA / "hm_fashion", item_keys, features, cfg)            # time split, MAP@12, blends
    write_report(report, RESULTS, "behaviour_hm", render=hm_markdown, main="test_all")

The shop's own run, and everything these build on, is in
:mod:`recommender.training.behaviour.report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets import hm_split, load_amazon_scientific
from bench.reference import VQREC
from recommender.training.behaviour.baselines import Repurchase, Scorer
from recommender.training.behaviour.data import Split
from recommender.training.behaviour.evaluate import Blend, OwnPurchases, RowScaled, tune_blend
from recommender.training.behaviour.report import (
    OnEpoch,
    evaluate_all,
    fit_and_baselines,
    leave_one_out_report,
    markdown_header,
    markdown_table,
)

__all__ = ["hm_blends", "hm_markdown", "run_amazon", "run_hm"]


def run_amazon(
    folder: Path, features: np.ndarray, cfg: dict[str, Any], *, progress: bool = False, on_epoch: OnEpoch = None
) -> dict[str, Any]:
    """Leave-one-out on the RecBole files, with VQ-Rec's published numbers on the same files."""
    report = leave_one_out_report(
        load_amazon_scientific(Path(folder), features), cfg, progress=progress, on_epoch=on_epoch
    )
    report["published"] = {"VQ-Rec (paper, same files)": VQREC}
    return report


def hm_blends(model_scorer: Scorer, split: Split, counts: np.ndarray, cooc: Scorer) -> tuple[dict[str, Any], dict]:
    """The model's H&M blends by name, and the weights chosen on the validation day.

    Own purchases are weighted on all validation articles (MAP@12); co-occurrence ("bought with
    what you bought"), what the customer has not bought yet, on the validation day's new
    articles with the history masked; the full blend adds own purchases to the latter.
    """
    ks = (12,)
    own = OwnPurchases(Repurchase(counts))
    best_w, by_weight = tune_blend(model_scorer, own, split.valid, counts, "map@12", ks)
    cooc = RowScaled(cooc)
    best_c, by_c = tune_blend(model_scorer, cooc, split.valid.only_new(), counts, "map@12", ks, mask_history=True)
    model_cooc = Blend(model_scorer, cooc, best_c)
    best_wc, by_wc = tune_blend(model_cooc, own, split.valid, counts, "map@12", ks)
    chosen = {
        "blend": {"with": "own purchases (recency-decayed)", "valid_map@12_by_weight": by_weight, "weight": best_w},
        "blend_cooc": {
            "with": "item co-occurrence kNN (row-scaled)",
            "valid_new_map@12_by_weight": by_c,
            "weight": best_c,
            "repurchase_weight": best_wc,
            "valid_map@12_by_repurchase_weight": by_wc,
        },
    }
    scorers = {
        "behaviour model + co-occurrence + repurchase (blend)": Blend(model_cooc, own, best_wc),
        "behaviour model + repurchase (blend)": Blend(model_scorer, own, best_w),
        "behaviour model + co-occurrence (blend)": model_cooc,
    }
    return scorers, chosen


def run_hm(
    folder: Path,
    item_keys: list[str],
    features: np.ndarray,
    cfg: dict[str, Any],
    *,
    progress: bool = False,
    on_epoch: OnEpoch = None,
) -> dict[str, Any]:
    """Time split (bench/datasets.py), MAP@12: every test article, then only articles new to the customer."""
    data, split, counts = hm_split(Path(folder), list(item_keys), features)
    report, result, scorers = fit_and_baselines(data, split, counts, cfg, progress=progress, on_epoch=on_epoch)
    ks = (12,)
    blends, chosen = hm_blends(scorers["behaviour model"], split, counts, scorers["item co-occurrence kNN"])
    report.update(chosen)
    scorers = {**blends, **scorers}
    report["test_all"] = evaluate_all(scorers, split.test, counts, ks)
    report["test_new"] = evaluate_all(scorers, split.test.only_new(), counts, ks, mask_history=True)
    report["data"]["test_users_new"] = len(split.test.only_new())
    report["model"] = result.model
    return report


def hm_markdown(report: dict[str, Any], *, title: str = "") -> str:
    """An H&M report as markdown: the chosen blend weights, then both test tables."""
    cols = ["map@12", "recall@12", "ndcg@12", "mrr", "coverage@10", "popularity_pct@10"]
    lines = markdown_header(report, title=title)
    lines += [f"Blend weight of own purchases (validation MAP@12): {report['blend']}", ""]
    if report.get("blend_cooc"):
        lines += [f"Co-occurrence blend (validation MAP@12 on new articles): {report['blend_cooc']}", ""]
    lines += ["## Test: all purchased articles", ""] + markdown_table(report["test_all"], cols)
    lines += ["", "## Test: only articles new to the customer (history masked)", ""]
    lines += markdown_table(report["test_new"], cols)
    return "\n".join(lines) + "\n"
