"""Whole offline runs: train the model, fit every baseline, rank held-out items with each; the report.

    report = leave_one_out_report(data, cfg)                  # any SequenceData, leave-one-out (shop, Amazon)
    report, result, scorers = fit_and_baselines(data, split, counts, cfg)   # the shared first half (bench: H&M)
    paths = write_report(report, folder, "behaviour_shop")    # .json, .md and PNG plots

No Django here (benchmarks use it without a project); this shop's run is
:func:`recommender.training.behaviour.shop_evaluation.run_evaluation`. ``report["model"]`` is the trained
model (left out of the files). Dataset-specific protocols
(H&M's time split and blends, published reference numbers) live in ``bench/``, outside the app.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from recommender.training.behaviour.baselines import Scorer, item_counts, standard_baselines
from recommender.training.behaviour.data import EvalSet, SequenceData, Split, leave_one_out
from recommender.training.behaviour.evaluate import Blend, RowScaled, evaluate, tune_blend
from recommender.training.behaviour.fit import ModelScorer, TrainResult, fit
from recommender.training.behaviour.plots import plot_by_k, plot_epochs

__all__ = [
    "OnEpoch",
    "evaluate_all",
    "fit_and_baselines",
    "leave_one_out_report",
    "markdown",
    "markdown_header",
    "markdown_table",
    "write_report",
]

OnEpoch = Callable[[dict[str, Any]], None] | None


def evaluate_all(
    scorers: Mapping[str, Scorer], evalset: EvalSet, counts: np.ndarray, ks, *, mask_history: bool = False
) -> dict[str, dict[str, Any]]:
    """:func:`evaluate` of every scorer (with the by-K curve), by name."""
    out = {}
    for name, scorer in tqdm(scorers.items(), desc="Evaluating", leave=False):
        out[name] = evaluate(scorer, evalset, ks=ks, counts=counts, mask_history=mask_history, curve=True)
    return out


def fit_and_baselines(
    data: SequenceData,
    split: Split,
    counts: np.ndarray,
    cfg: dict[str, Any],
    *,
    progress: bool = False,
    on_epoch: OnEpoch = None,
) -> tuple[dict[str, Any], TrainResult, dict[str, Scorer]]:
    """Train the model on ``split`` and fit the standard baselines; the report's data and training
    sections, the training result and the scorers by name (the model first)."""
    report: dict[str, Any] = {"dataset": data.info.get("dataset", ""), "config": cfg}
    report["data"] = {
        "users": len(data.sequences),
        "items": data.n_items,
        "interactions": sum(map(len, data.sequences)),
        "train_sequences": len(split.train),
        "valid_users": len(split.valid),
        "test_users": len(split.test),
        "feature_dim": int(data.features.shape[1]),
        **split.info,
    }
    result = fit(
        data.features,
        split.train,
        split.valid,
        cfg,
        train_types=split.train_types,
        progress=progress,
        on_epoch=on_epoch,
    )
    report["training"] = {
        "seconds": round(result.seconds, 1),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "device": result.device,
        "history": result.history,
        "best_valid": result.best_valid,
    }
    scorers = {
        "behaviour model": ModelScorer(result.model),
        **standard_baselines(split.train, data.features, data.n_items, counts),
    }
    return report, result, scorers


def leave_one_out_report(
    data: SequenceData, cfg: dict[str, Any], *, progress: bool = False, on_epoch: OnEpoch = None
) -> dict[str, Any]:
    """Leave-one-out (newest item tests, the one before validates), full ranking, Recall/NDCG@10 and @50.

    Adds what serving ranks by: the model blended with item co-occurrence of the shopper's
    recent items, its weight tuned on validation NDCG@10.
    """
    split = leave_one_out(data.sequences, data.types)
    counts = item_counts(split.train, data.n_items)
    report, result, scorers = fit_and_baselines(data, split, counts, cfg, progress=progress, on_epoch=on_epoch)
    ks = (10, 50)
    model_scorer = scorers["behaviour model"]
    cooc = RowScaled(scorers["item co-occurrence kNN"])
    best_w, by_weight = tune_blend(model_scorer, cooc, split.valid, counts, "ndcg@10", ks)
    report["blend"] = {
        "with": "item co-occurrence kNN (row-scaled)",
        "valid_ndcg@10_by_weight": by_weight,
        "weight": best_w,
    }
    scorers = {"behaviour model + co-occurrence (blend)": Blend(model_scorer, cooc, best_w), **scorers}
    report["test"] = evaluate_all(scorers, split.test, counts, ks)
    report["valid_model"] = evaluate(model_scorer, split.valid, ks=ks, counts=counts)
    report["model"] = result.model
    return report


def write_report(
    report: dict[str, Any],
    folder: Path | str,
    prefix: str,
    *,
    title: str = "",
    render: Callable[..., str] | None = None,
    main: str = "test",
) -> dict[str, str]:
    """``<prefix>.json``, ``<prefix>.md``, ``<prefix>_epochs.png``, ``<prefix>_by_k.png`` in ``folder``.

    ``render(report, title=...)`` writes the markdown (default :func:`markdown`); ``main`` names
    the results plotted by K.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in report.items() if k != "model"}
    paths = {"json": folder / f"{prefix}.json", "md": folder / f"{prefix}.md"}
    paths["json"].write_text(json.dumps(clean, indent=2, default=str) + "\n")
    paths["md"].write_text((render or markdown)(clean, title=title))
    paths["epochs"] = plot_epochs(clean["training"]["history"], folder / f"{prefix}_epochs.png", title=title)
    paths["by_k"] = plot_by_k(clean[main], folder / f"{prefix}_by_k.png", title=title)
    return {k: str(v) for k, v in paths.items()}


def markdown_table(results: dict[str, dict], columns: list[str], extra: dict[str, dict] | None = None) -> list[str]:
    """Markdown rows: one per scorer (then ``extra`` rows, e.g. published numbers), one column per metric."""
    lines = ["| model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in {**results, **(extra or {})}.items():
        cells = [f"{values[c]:.4f}" if isinstance(values.get(c), float) else str(values.get(c, "")) for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown_header(report: dict[str, Any], *, title: str = "") -> list[str]:
    """Title, data and training lines of a report."""
    lines = [f"# {title or 'Behaviour model: ' + report['dataset']}", ""]
    d, t = report["data"], report["training"]
    lines += ["Data: " + ", ".join(f"{k} {v}" for k, v in d.items()), ""]
    lines += [f"Training: {t['seconds']} s on {t['device']}, best epoch {t['best_epoch']} of {t['epochs_run']}.", ""]
    return lines


def markdown(report: dict[str, Any], *, title: str = "") -> str:
    """A leave-one-out report as markdown; ``report["published"]`` rows are shown under the table."""
    cols = ["recall@10", "ndcg@10", "recall@50", "ndcg@50", "mrr", "coverage@10", "popularity_pct@10"]
    lines = markdown_header(report, title=title)
    lines += ["## Test (leave-one-out, full ranking)", ""]
    lines += markdown_table(report["test"], cols, report.get("published"))
    if report.get("blend"):
        lines += ["", f"Blend (tuned on validation): {report['blend']}"]
    return "\n".join(lines) + "\n"
