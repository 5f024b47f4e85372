"""Recent popularity, the blend's "what everybody is buying this week": one score per item, 0..1.

    popular = recent_popularity(sequences, times, end=cut, days=7, n_items=n)   # RecentPopularity
    popular.save(folder)                                 # folder / "popularity.npz", read by serving
    popular = load_popularity(folder)                    # None when the version has none
    popular.top(48)                                      # the most popular item indices, best first

An item's score is ``log(1 + n) / log(1 + n_max)``: ``n`` counts the events of the model's
sequences (one per product per run of events, as training reads them) in the ``days`` before
``end``. The logarithm keeps a best-seller from drowning every other signal; on H&M it
validated better than the plain count (MAP@12 of products new to the shopper 0.0525 against
0.0521 on validation, each with its best weight). Fashion moves by the week: the model and
co-occurrence, learned over the whole history, rank last season's hits as high as this week's, and a time split is what can tell the two apart, so training tunes this part only on one
(:func:`recommender.training.behaviour.train.tune_popularity`).

Training counts up to the start of validation to tune the weight, then every event up to the
newest to serve, as it does for co-occurrence; the counts are the shop's at training time and move
on with the next training. Only numpy here: the web process imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

__all__ = ["POPULARITY_DAYS", "POPULARITY_FILENAME", "RecentPopularity", "load_popularity", "recent_popularity"]

POPULARITY_FILENAME = "popularity.npz"
# The window counted. On H&M 2, 4, 7 and 14 days validated alike (0.0521 each, linear counts),
# 1 day worse (0.0506); a week smooths weekday swings without reaching last month.
POPULARITY_DAYS = 7.0
DAY = 86_400.0


@dataclass(frozen=True)
class RecentPopularity:
    """``scores[i]``: item ``i``'s recent popularity, 0..1; counted over ``days`` before ``end`` (POSIX time)."""

    scores: np.ndarray  # (n_items,) float32
    days: float
    end: float

    @property
    def n_items(self) -> int:
        return len(self.scores)

    @cached_property
    def ranked(self) -> np.ndarray:
        """Every item with a positive score, best first (ties: lower index); sorted once per load."""
        positive = np.flatnonzero(self.scores > 0)
        return positive[np.lexsort((positive, -self.scores[positive]))]

    def top(self, n: int) -> np.ndarray:
        """The ``n`` most popular items with a positive score, best first (ties: lower index)."""
        return self.ranked[:n]

    def save(self, folder: Path) -> Path:
        path = Path(folder) / POPULARITY_FILENAME
        np.savez(path, scores=self.scores, days=np.float64(self.days), end=np.float64(self.end))
        return path


def recent_popularity(
    sequences: Sequence[Sequence[int]], times: Sequence[Sequence[float]], *, end: float, days: float, n_items: int
) -> RecentPopularity:
    """Each item's events in ``[end - days, end)``, as ``log(1 + n) / log(1 + n_max)`` (all 0 when none)."""
    since = end - days * DAY
    counts = np.zeros(n_items, dtype=np.float64)
    for seq, stamps in zip(sequences, times, strict=True):
        for item, t in zip(seq, stamps, strict=True):
            if since <= t < end:
                counts[item] += 1.0
    top = counts.max(initial=0.0)
    scores = np.log1p(counts) / np.log1p(top) if top > 0 else counts
    return RecentPopularity(scores.astype(np.float32), float(days), float(end))


def load_popularity(folder: Path) -> RecentPopularity | None:
    """The scores saved in ``folder``, or None when there are none (a version trained without them).

    Raises ValueError for a file that does not hold scores in 0..1.
    """
    path = Path(folder) / POPULARITY_FILENAME
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as saved:
        popular = RecentPopularity(saved["scores"].astype(np.float32), float(saved["days"]), float(saved["end"]))
    scores = popular.scores
    if scores.ndim != 1 or not np.all(np.isfinite(scores)) or (len(scores) and (scores.min() < 0 or scores.max() > 1)):
        raise ValueError(f"{path} does not hold popularity scores in 0..1")
    return popular
