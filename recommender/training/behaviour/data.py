"""Sequences of items per user, and the splits the models are trained and evaluated on.

Items are indices ``0..n_items-1`` into a feature matrix (one row per item). A data set is::

    data = SequenceData(item_keys, features, sequences, types)   # sequences: chronological lists
    split = leave_one_out(data.sequences)     # train = seq[:-2]; valid -> seq[-2]; test -> seq[-1]
    split = time_split(timed, split_time=..., valid_time=...)    # purchases after a date

No Django here (benchmarks use it without a project). This shop's sequences:
:mod:`.shop`; public data sets (Amazon "Scientific", H&M): ``bench/datasets.py``, outside the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["EvalSet", "SequenceData", "Split", "leave_one_out", "time_split"]


@dataclass
class SequenceData:
    item_keys: list[str]
    features: np.ndarray  # (n_items, feature_dim), float32
    sequences: list[list[int]]  # per user, chronological item indices
    types: list[list[int]] | None = None  # per user, EVENT_TYPES codes (None: all purchases)
    user_keys: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    times: list[list[float]] | None = None  # per user, each event's POSIX time (shop data only)
    prices: np.ndarray | None = None  # (n_items,) the stored price, NaN when unknown (shop data only)

    @property
    def n_items(self) -> int:
        return len(self.item_keys)


@dataclass
class EvalSet:
    """Histories to rank from and the items that should come out (one or several per user)."""

    histories: list[list[int]]
    targets: list[list[int]]
    types: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.histories)

    def subset(self, rows: Sequence[int]) -> EvalSet:
        return EvalSet(
            [self.histories[i] for i in rows],
            [self.targets[i] for i in rows],
            [self.types[i] for i in rows] if self.types is not None else None,
        )

    def only_new(self) -> EvalSet:
        """Targets the user has not had before; users left with none are dropped."""
        keep, targets = [], []
        for i, (history, target) in enumerate(zip(self.histories, self.targets, strict=True)):
            seen = set(history)
            new = [t for t in target if t not in seen]
            if new:
                keep.append(i)
                targets.append(new)
        out = self.subset(keep)
        out.targets = targets
        return out


@dataclass
class Split:
    train: list[list[int]]
    valid: EvalSet
    test: EvalSet
    train_types: list[list[int]] | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _types(types: list[list[int]] | None, i: int, stop: int | None) -> list[int] | None:
    return None if types is None else types[i][:stop]


def _held_out_tails(
    sequences: list[list[int]], types: list[list[int]] | None, min_length: int, held: int
) -> tuple[list[list[int]], list, list[int]]:
    """(train, train types, users held out): each sequence of at least ``min_length`` items trains
    without its last ``held``; a shorter one (of 2 or more) trains whole, holding nothing out."""
    train, train_types, users = [], [], []
    for i, seq in enumerate(sequences):
        if len(seq) < min_length:
            if len(seq) >= 2:
                train.append(list(seq))
                train_types.append(_types(types, i, None))
            continue
        train.append(list(seq[:-held]))
        train_types.append(_types(types, i, -held))
        users.append(i)
    return train, train_types, users


def _next_item(sequences: list[list[int]], types: list[list[int]] | None, users: list[int], stop: int) -> EvalSet:
    """For ``users``, the history before position ``stop`` (negative) ranked against the item at it."""
    histories = [list(sequences[i][:stop]) for i in users]
    targets = [[sequences[i][stop]] for i in users]
    return EvalSet(histories, targets, [_types(types, i, stop) for i in users] if types is not None else None)


def leave_one_out(sequences: list[list[int]], types: list[list[int]] | None = None, min_length: int = 3) -> Split:
    """Last item = test target, second-to-last = validation target, the rest trains.

    Users with fewer than ``min_length`` items only train (they have nothing to hold out). The
    validation and test targets never appear in ``train`` at their held-out positions.
    """
    train, train_types, users = _held_out_tails(sequences, types, min_length, held=2)
    return Split(
        train=train,
        valid=_next_item(sequences, types, users, -2),
        test=_next_item(sequences, types, users, -1),
        train_types=train_types if types is not None else None,
        info={"protocol": "leave-one-out"},
    )


def leave_last_out(sequences: list[list[int]], types: list[list[int]] | None = None, min_length: int = 3) -> Split:
    """The newest item of each sequence validates, the rest trains; no separate test target.

    A shop's model then learns from everything but one product per shopper (leave-one-out keeps
    two back), and what validates it is the next-item prediction it serves. As with a time
    split, ``test`` is ``valid``. Users with fewer than ``min_length`` items only train.
    """
    train, train_types, users = _held_out_tails(sequences, types, min_length, held=1)
    valid = _next_item(sequences, types, users, -1)
    return Split(train, valid, valid, train_types if types is not None else None, info={"protocol": "leave-last-out"})


def time_split(
    timed: dict[str, list[tuple[str, int]]], *, split_time: str, valid_time: str, end_time: str | None = None
) -> Split:
    """Train on what happened before ``valid_time``; validate on [valid_time, split_time); test after.

    ``timed`` maps a user to (sortable time, item) pairs. Validation rows rank from the history
    before ``valid_time``; test rows from everything before ``split_time`` (validation period
    included as history, never as training data). Targets are the distinct items of the period,
    and only users with a history before the period are evaluated.
    """
    train, valid_h, valid_t, test_h, test_t = [], [], [], [], []
    for rows in timed.values():
        rows = sorted(rows, key=lambda r: r[0])
        before_valid = [item for t, item in rows if t < valid_time]
        before_split = [item for t, item in rows if t < split_time]
        valid_items = list(dict.fromkeys(item for t, item in rows if valid_time <= t < split_time))
        test_items = list(
            dict.fromkeys(item for t, item in rows if t >= split_time and (end_time is None or t < end_time))
        )
        if len(before_valid) >= 2:
            train.append(before_valid)
        if before_valid and valid_items:
            valid_h.append(before_valid)
            valid_t.append(valid_items)
        if before_split and test_items:
            test_h.append(before_split)
            test_t.append(test_items)
    return Split(
        train=train,
        valid=EvalSet(valid_h, valid_t),
        test=EvalSet(test_h, test_t),
        info={"protocol": "time split", "valid_from": valid_time, "test_from": split_time},
    )
