"""A PNG of the validation retrieval curves, one line per metric over the epochs.

Usage::

    plot_history(result.history, output_dir / "training_curves.png", title="catalog CLIP")

Uses matplotlib's Agg backend through an explicit Figure, so it works in workers without a
display and never touches pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_history"]


def plot_history(history: Sequence[Mapping[str, Any]], path: str | Path, *, title: str = "") -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4), dpi=110)
    FigureCanvasAgg(figure)
    recall_axes, loss_axes = figure.subplots(1, 2)
    epochs = [row["epoch"] for row in history]
    for direction, style in (("t2i", "-"), ("i2t", "--")):
        for k in (1, 5, 10):
            key = f"{direction}_r{k}"
            if any(key in row for row in history):
                recall_axes.plot(epochs, [row.get(key) for row in history], style, marker="o", label=key)
    recall_axes.set(xlabel="epoch", ylabel="recall (held-out)", ylim=(0, 1), title="validation retrieval")
    recall_axes.grid(alpha=0.3)
    recall_axes.legend(fontsize=7, ncol=2)
    trained = [row for row in history if row.get("train_loss") is not None]
    loss_axes.plot([row["epoch"] for row in trained], [row["train_loss"] for row in trained], marker="o")
    loss_axes.set(xlabel="epoch", ylabel="contrastive loss", title="training loss")
    loss_axes.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
