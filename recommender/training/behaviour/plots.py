"""PNG plots of a behaviour run: validation metric per epoch, and test metric by cut-off K.

    plot_epochs(result.history, folder / "epochs.png")
    plot_by_k({"model": metrics, "popularity": ...}, folder / "by_k.png", metric="recall")

matplotlib's Agg backend through an explicit Figure (no pyplot state), as in recommender.training.plots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_by_k", "plot_epochs"]


def _figure(width: float = 9, height: float = 4):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path)
    return path


def plot_epochs(history: Sequence[Mapping[str, Any]], path: str | Path, *, title: str = "") -> Path:
    figure = _figure()
    metric_axes, loss_axes = figure.subplots(1, 2)
    epochs = [row["epoch"] for row in history]
    for key in ("valid_ndcg@10", "valid_recall@10", "valid_recall@50"):
        metric_axes.plot(epochs, [row.get(key) for row in history], marker="o", label=key)
    metric_axes.set(xlabel="epoch", ylabel="validation", title="validation metrics")
    metric_axes.grid(alpha=0.3)
    metric_axes.legend(fontsize=7)
    loss_axes.plot(epochs, [row["train_loss"] for row in history], marker="o")
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy", title="training loss")
    loss_axes.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def plot_by_k(
    results: Mapping[str, Mapping[str, Any]],
    path: str | Path,
    *,
    metrics: Sequence[str] = ("recall", "ndcg"),
    title: str = "",
) -> Path:
    figure = _figure(5 * len(metrics), 4)
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        for name, values in results.items():
            ks = sorted(int(k.split("@")[1]) for k in values if k.startswith(f"{metric}@"))
            if ks:
                ax.plot(ks, [values[f"{metric}@{k}"] for k in ks], marker="o", label=name)
        ax.set(xlabel="K", ylabel=f"{metric}@K", xscale="log", title=f"{metric}@K (test)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    if title:
        figure.suptitle(title)
    return _save(figure, path)
