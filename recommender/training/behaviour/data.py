"""Sequences of items per user, and the splits the models are trained and evaluated on.

Items are indices ``0..n_items-1`` into a feature matrix (one row per item). A data set is::

    data = SequenceData(item_keys, features, sequences, types)   # sequences: chronological lists
    split = leave_one_out(data.sequences)     # train = seq[:-2]; valid -> seq[-2]; test -> seq[-1]
    split = time_split(timed, split_time=..., valid_time=...)    # purchases after a date

Loaders: :func:`load_amazon_scientific` (RecBole files), :func:`load_hm` (H&M transactions),
:func:`load_shop` (this shop's events and the serving encoder's fused vectors).
"""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "EVENT_TYPES",
    "EvalSet",
    "SequenceData",
    "Split",
    "leave_one_out",
    "load_amazon_scientific",
    "load_hm",
    "load_shop",
    "time_split",
]

# Event types as model inputs (0 is padding). Benchmarks have purchases only.
EVENT_TYPES = {"view": 1, "click": 2, "add_to_cart": 3, "purchase": 4}
PURCHASE = EVENT_TYPES["purchase"]


@dataclass
class SequenceData:
    item_keys: list[str]
    features: np.ndarray  # (n_items, feature_dim), float32
    sequences: list[list[int]]  # per user, chronological item indices
    types: list[list[int]] | None = None  # per user, EVENT_TYPES codes (None: all purchases)
    user_keys: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

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


def leave_one_out(sequences: list[list[int]], types: list[list[int]] | None = None, min_length: int = 3) -> Split:
    """Last item = test target, second-to-last = validation target, the rest trains.

    Users with fewer than ``min_length`` items only train (they have nothing to hold out). The
    validation and test targets never appear in ``train`` at their held-out positions.
    """
    train, train_types = [], []
    valid_h, valid_t, valid_ty, test_h, test_t, test_ty = [], [], [], [], [], []
    for i, seq in enumerate(sequences):
        if len(seq) < min_length:
            if len(seq) >= 2:
                train.append(list(seq))
                train_types.append(_types(types, i, None))
            continue
        train.append(list(seq[:-2]))
        train_types.append(_types(types, i, -2))
        valid_h.append(list(seq[:-2]))
        valid_t.append([seq[-2]])
        valid_ty.append(_types(types, i, -2))
        test_h.append(list(seq[:-1]))
        test_t.append([seq[-1]])
        test_ty.append(_types(types, i, -1))
    has_types = types is not None
    return Split(
        train=train,
        valid=EvalSet(valid_h, valid_t, valid_ty if has_types else None),
        test=EvalSet(test_h, test_t, test_ty if has_types else None),
        train_types=train_types if has_types else None,
        info={"protocol": "leave-one-out"},
    )


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


# --- Amazon "Scientific" (RecBole files) -----------------------------------------------------------


def load_amazon_scientific(folder: Path, features: np.ndarray | None = None) -> SequenceData:
    """Sequences from ``Scientific.seq.tsv`` (item indices of ``Scientific.item2index``)."""
    folder = Path(folder)
    index = {}
    with open(folder / "Scientific.item2index") as handle:
        for line in handle:
            asin, i = line.rstrip("\n").split("\t")
            index[int(i)] = asin
    users, sequences = [], []
    with open(folder / "Scientific.seq.tsv") as handle:
        next(handle)
        for line in handle:
            user, items = line.rstrip("\n").split("\t")
            users.append(user)
            sequences.append([int(x) for x in items.split()])
    keys = [index[i] for i in range(len(index))]
    if features is None:
        features = np.zeros((len(keys), 1), dtype=np.float32)
    return SequenceData(keys, features, sequences, None, users, {"dataset": "amazon-scientific"})


def amazon_texts(folder: Path, item_keys: list[str]) -> list[str]:
    texts = {}
    with open(Path(folder) / "Scientific.text") as handle:
        next(handle)
        for line in handle:
            asin, text = line.rstrip("\n").split("\t", 1)
            texts[asin] = text.strip()
    return [texts.get(k, "") for k in item_keys]


# --- H&M --------------------------------------------------------------------------------------------

HM_LASTWEEK_START = "2020-09-16"


def read_hm_purchases(folder: Path) -> list[tuple[str, str, str]]:
    """(day, customer, article) rows of both files, without the 181 rows the files share.

    Identical rows (several units) are kept once: a sequence is what was bought, not how many.
    """
    folder = Path(folder)
    rows: dict[tuple[str, str, str], None] = {}
    with open(folder / "transactions_history.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["t_dat"] < HM_LASTWEEK_START:  # the rest is repeated in the last-week file
                rows[(row["t_dat"], row["customer_id"], row["article_id"])] = None
    with gzip.open(folder / "transactions_lastweek.csv.gz", "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[(row["t_dat"], row["customer_id"], row["article_id"])] = None
    return list(rows)


def load_hm(folder: Path, item_keys: list[str], features: np.ndarray) -> tuple[SequenceData, dict[str, list]]:
    """All H&M purchases as (day, item) per customer, plus a SequenceData without held-out logic."""
    index = {key: i for i, key in enumerate(item_keys)}
    timed: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for day, customer, article in read_hm_purchases(folder):
        if article in index:
            timed[customer].append((day, index[article]))
    users = sorted(timed)
    sequences = [[item for _, item in sorted(timed[u], key=lambda r: r[0])] for u in users]
    data = SequenceData(item_keys, features, sequences, None, users, {"dataset": "hm"})
    return data, dict(timed)


# --- this shop ------------------------------------------------------------------------------------


def load_shop(cfg: dict[str, Any], encoder_version=None) -> SequenceData:
    """Event sequences of every user/session and the encoder version's fused product vectors.

    Items are the products with a fused vector in ``encoder_version`` (default: the serving one).
    Consecutive repeats of one product (a view then its add-to-cart) collapse into the last event.
    """
    from recommender.models import Event, ProductVector
    from recommender.versions import serving_version

    version = encoder_version or serving_version()
    if version is None:
        raise ValueError("No active encoder version: run recommender_reindex first.")
    rows = ProductVector.objects.filter(version=version, embedding__isnull=False).order_by("product_key")
    keys, vectors = [], []
    for key, vector in rows.values_list("product_key", "embedding"):
        keys.append(key)
        vectors.append(np.asarray(vector, dtype=np.float32))
    if not keys:
        raise ValueError(f"Encoder version {version.pk} has no product vectors.")
    index = {key: i for i, key in enumerate(keys)}
    events = (
        Event.objects.filter(type__in=cfg["event_types"])
        .exclude(product_key="")
        .order_by("created_at", "pk")
        .values_list("user_id", "session_key", "product_key", "type")
    )
    owners: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for user_id, session_key, key, type_ in events.iterator():
        if key not in index:
            continue
        owner = f"u{user_id}" if user_id is not None else f"s{session_key}"
        items, types = owners[owner]
        if items and items[-1] == index[key]:
            types[-1] = max(types[-1], EVENT_TYPES[type_])
            continue
        items.append(index[key])
        types.append(EVENT_TYPES[type_])
    users = [o for o, (items, _) in owners.items() if len(items) >= 2]
    limit = int(cfg["max_events_per_user"])
    return SequenceData(
        keys,
        np.stack(vectors),
        [owners[u][0][-limit:] for u in users],
        [owners[u][1][-limit:] for u in users],
        users,
        {"dataset": "shop", "encoder_version": version.pk},
    )
