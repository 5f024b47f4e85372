"""Loaders of the public data sets the behaviour model is benchmarked on (outside the app: the wheel
holds no dataset-specific code).

    data = load_amazon_scientific(DATA / "amazon_scientific", features)    # RecBole files, leave-one-out
    data, split, counts = hm_split(DATA / "hm_fashion", item_keys, features)   # H&M, time split

Both return :class:`recommender.training.behaviour.data.SequenceData`; the data stay in
``../shared/data`` (their licences forbid copying them into the project).
"""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from pathlib import Path

import numpy as np

from recommender.training.behaviour.baselines import item_counts
from recommender.training.behaviour.data import SequenceData, Split, time_split

__all__ = [
    "HM_POPULARITY_FROM",
    "HM_TEST_END",
    "HM_TEST_FROM",
    "HM_VALID_FROM",
    "hm_split",
    "load_amazon_scientific",
    "load_hm",
    "read_hm_purchases",
]

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


# --- H&M --------------------------------------------------------------------------------------------

# The last-week file starts here; the history file's rows from this day on repeat it.
HM_LASTWEEK_START = "2020-09-16"
# Validation day, test days [HM_TEST_FROM, HM_TEST_END), and the week whose purchases are the
# popularity baseline (the competition's strong one: the week before the validation day).
HM_VALID_FROM, HM_TEST_FROM, HM_TEST_END = "2020-09-19", "2020-09-20", "2020-09-23"
HM_POPULARITY_FROM = "2020-09-12"


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


def hm_split(folder: Path, item_keys: list[str], features: np.ndarray) -> tuple[SequenceData, Split, np.ndarray]:
    """(data, split, counts) of the H&M time split; ``counts`` is the popularity of the week
    before the validation day (the competition's strong baseline)."""
    data, timed = load_hm(folder, item_keys, features)
    split = time_split(timed, split_time=HM_TEST_FROM, valid_time=HM_VALID_FROM, end_time=HM_TEST_END)
    recent = [[i for t, i in rows if HM_POPULARITY_FROM <= t < HM_VALID_FROM] for rows in timed.values()]
    return data, split, item_counts(recent, data.n_items)
