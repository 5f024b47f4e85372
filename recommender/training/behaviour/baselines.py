"""Baselines scored the same way as the model: ``scorer(histories, types) -> (B, n_items)`` scores.

    pop = Popularity(counts)
    scorers = standard_baselines(split.train, features, n_items)   # name -> scorer

Every scorer ranks the full catalogue; ties break towards popular items where a popularity
tie-breaker is added (``TIE``), so no baseline depends on item numbering.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from recommender.behaviour.codes import PURCHASE
from recommender.behaviour.cooccurrence import CooccurrenceTable, recency_weights
from recommender.behaviour.repurchase import BuyAgainRanker, own_purchase_scores

__all__ = [
    "ALS",
    "COSINE",
    "COUNT",
    "CoocKNN",
    "FamilyVariants",
    "LastItemVector",
    "Popularity",
    "ProfileVector",
    "Repurchase",
    "Scorer",
    "Transitions",
    "TransitionsCooc",
    "item_counts",
    "standard_baselines",
]

Scorer = Callable[[list[list[int]], "list[list[int]] | None"], np.ndarray]
# Popularity added to break ties: far below one co-occurrence or transition count.
TIE = 1e-6


def item_counts(sequences: Sequence[Sequence[int]], n_items: int) -> np.ndarray:
    counts = np.zeros(n_items, dtype=np.float64)
    for seq in sequences:
        np.add.at(counts, np.asarray(seq, dtype=np.int64), 1.0)
    return counts


def _unit(x: np.ndarray) -> np.ndarray:
    top = x.max() if x.size else 0.0
    return x / top if top > 0 else x


class Popularity:
    """Most interacted items (optionally counted over a recent window only)."""

    def __init__(self, counts: np.ndarray) -> None:
        self.pop = _unit(np.asarray(counts, dtype=np.float64))

    def __call__(self, histories, types=None) -> np.ndarray:
        return np.tile(self.pop.astype(np.float32), (len(histories), 1))


class Repurchase:
    """The user's own items, newest first, then popularity.

    ``own`` (the score blended with the model) ranks the purchases with ``ranker`` when given
    (``prices``: per item, NaN unknown), as serving does.
    """

    def __init__(
        self,
        counts: np.ndarray,
        last: int = 50,
        *,
        ranker: BuyAgainRanker | None = None,
        prices: np.ndarray | None = None,
    ) -> None:
        self.pop = _unit(np.asarray(counts, dtype=np.float64))
        self.last = last
        self.ranker = ranker
        self.prices = prices

    def __call__(self, histories, types=None) -> np.ndarray:
        out = np.tile(self.pop.astype(np.float32), (len(histories), 1))
        for row, history in enumerate(histories):
            recent = list(dict.fromkeys(reversed(history)))[: self.last]  # newest distinct first
            for rank, item in enumerate(recent):
                out[row, item] = 2.0 + (len(recent) - rank)
        return out

    def own(self, histories, types=None) -> np.ndarray:
        """Only the repurchase part: 0 for items the user never bought, else decaying with recency.

        The score is :func:`~recommender.behaviour.repurchase.own_purchase_scores` (what serving
        adds too). With ``types`` (shop sequences mix views and purchases) only purchases count;
        without them (H&M) every history item is a purchase.
        """
        out = np.zeros((len(histories), len(self.pop)), dtype=np.float32)
        for row, history in enumerate(histories):
            kinds = types[row] if types is not None else [PURCHASE] * len(history)
            bought = [item for item, t in zip(history, kinds, strict=True) if t == PURCHASE]
            prices = {} if self.prices is None else {item: float(self.prices[item]) for item in set(bought)}
            for item, score in own_purchase_scores(bought, self.last, ranker=self.ranker, prices=prices).items():
                out[row, item] = score
        return out


class FamilyVariants:
    """Other variants of the shopper's recent items (a family table's scores), then popularity:
    the heuristic a fashion shop would try first ("the same top in another colour")."""

    def __init__(self, table: CooccurrenceTable, counts: np.ndarray) -> None:
        self.table = table
        self.pop = TIE * _unit(np.asarray(counts, dtype=np.float64))

    def __call__(self, histories, types=None) -> np.ndarray:
        out = np.tile(self.pop.astype(np.float32), (len(histories), 1))
        for row, history in enumerate(histories):
            items, scores = self.table.scores(history)
            out[row, items] += scores.astype(np.float32)
        return out


def _transitions(sequences, n_items: int) -> sp.csr_matrix:
    rows, cols = [], []
    for seq in sequences:
        for a, b in itertools.pairwise(seq):
            if a != b:
                rows.append(a)
                cols.append(b)
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(n_items, n_items))


def _user_item(sequences, n_items: int) -> sp.csr_matrix:
    rows, cols = [], []
    for u, seq in enumerate(sequences):
        for item in set(seq):
            rows.append(u)
            cols.append(item)
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(sequences), n_items))


class Transitions:
    """Items that followed the user's last item in other sequences (first-order Markov)."""

    def __init__(self, sequences, n_items: int, counts: np.ndarray) -> None:
        self.T = _transitions(sequences, n_items)
        self.pop = TIE * _unit(counts)

    def __call__(self, histories, types=None) -> np.ndarray:
        last = [h[-1] for h in histories]
        return (self.T[last].toarray() + self.pop).astype(np.float32)


COSINE, COUNT = "cosine", "count"


class CoocKNN:
    """Item kNN: co-occurrence in users' item sets, summed over the recent history.

    ``similarity``: ``"cosine"`` (the count over the geometric mean of both items' users: a
    niche pair counts as much as a popular one) or ``"count"`` (how many users had both: pairs
    of popular products lead, which on H&M predicts new purchases better, MAP@12 0.038 vs 0.029).
    """

    def __init__(
        self,
        sequences,
        n_items: int,
        counts: np.ndarray,
        recent: int = 5,
        decay: float = 0.7,
        similarity: str = COSINE,
    ) -> None:
        if similarity not in (COSINE, COUNT):
            raise ValueError(f"Unknown co-occurrence similarity {similarity!r}: {COSINE!r} or {COUNT!r}.")
        X = _user_item(sequences, n_items)
        C = (X.T @ X).tocsr().astype(np.float32)
        C.setdiag(0)
        C.eliminate_zeros()
        if similarity == COUNT:
            self.S = C
        else:
            norms = np.sqrt(np.asarray(X.sum(axis=0)).ravel()) + 1e-9
            self.S = (sp.diags(1 / norms) @ C @ sp.diags(1 / norms)).tocsr()
        self.pop = TIE * _unit(counts)
        self.recent, self.decay = recent, decay

    def weights(self, histories) -> sp.csr_matrix:
        """(B, n_items): each user's newest distinct items, weighted by recency (what serving uses too)."""
        rows, cols, vals = [], [], []
        for row, history in enumerate(histories):
            for item, weight in recency_weights(history, self.recent, self.decay).items():
                rows.append(row)
                cols.append(item)
                vals.append(weight)
        return sp.csr_matrix((vals, (rows, cols)), shape=(len(histories), self.S.shape[0]))

    def __call__(self, histories, types=None) -> np.ndarray:
        return ((self.weights(histories) @ self.S).toarray() + self.pop).astype(np.float32)


class TransitionsCooc:
    """Transitions from the last item first, then co-occurrence kNN, then popularity."""

    def __init__(self, sequences, n_items: int, counts: np.ndarray, cooc_weight: float = 0.1) -> None:
        self.transitions = Transitions(sequences, n_items, counts)
        self.cooc = CoocKNN(sequences, n_items, counts)
        self.cooc_weight = cooc_weight

    def __call__(self, histories, types=None) -> np.ndarray:
        t = self.transitions.T[[h[-1] for h in histories]].toarray()
        t = t / np.maximum(t.max(axis=1, keepdims=True), 1e-9)
        c = (self.cooc.weights(histories) @ self.cooc.S).toarray()
        c = c / np.maximum(c.max(axis=1, keepdims=True), 1e-9)
        return (t + self.cooc_weight * c + self.cooc.pop).astype(np.float32)


class ALS:
    """Implicit-feedback matrix factorisation (``implicit`` library; numpy fallback).

    Query users are folded in from their history with the closed-form ALS user step, so users
    whose newest items were held out are scored from exactly the history they are evaluated on.
    """

    def __init__(
        self,
        sequences,
        n_items: int,
        *,
        factors: int = 64,
        reg: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        seed: int = 0,
    ) -> None:
        X = _user_item(sequences, n_items) * alpha
        self.alpha, self.reg = alpha, reg
        try:
            from implicit.cpu.als import AlternatingLeastSquares

            model = AlternatingLeastSquares(
                factors=factors,
                regularization=reg,
                iterations=iterations,
                random_state=seed,
                calculate_training_loss=False,
            )
            try:  # implicit asks for a single-threaded BLAS (it parallelises itself)
                from threadpoolctl import threadpool_limits
            except ImportError:  # pragma: no cover
                import contextlib

                threadpool_limits = lambda *a, **k: contextlib.nullcontext()
            with threadpool_limits(1, "blas"):
                model.fit(X.tocsr(), show_progress=False)
            self.Y = np.asarray(model.item_factors, dtype=np.float64)
            self.backend = "implicit"
        except ImportError:
            self.Y = _numpy_als(X.tocsr(), factors, reg, iterations, seed)
            self.backend = "numpy"
        self.YtY = self.Y.T @ self.Y

    def __call__(self, histories, types=None) -> np.ndarray:
        k = self.Y.shape[1]
        users = np.zeros((len(histories), k))
        for row, history in enumerate(histories):
            items = np.asarray(sorted(set(history)), dtype=np.int64)
            Yi = self.Y[items]
            c = 1.0 + self.alpha
            A = self.YtY + (c - 1.0) * Yi.T @ Yi + self.reg * np.eye(k)
            users[row] = np.linalg.solve(A, c * Yi.sum(axis=0))
        return (users @ self.Y.T).astype(np.float32)


def _numpy_als(X: sp.csr_matrix, factors: int, reg: float, iterations: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    U = rng.normal(scale=0.01, size=(X.shape[0], factors))
    V = rng.normal(scale=0.01, size=(X.shape[1], factors))

    def step(M: sp.csr_matrix, fixed: np.ndarray, out: np.ndarray) -> None:
        FtF = fixed.T @ fixed
        for row in range(M.shape[0]):
            idx, conf = M.indices[M.indptr[row] : M.indptr[row + 1]], M.data[M.indptr[row] : M.indptr[row + 1]]
            Fi = fixed[idx]
            A = FtF + (Fi.T * conf) @ Fi + reg * np.eye(factors)
            out[row] = np.linalg.solve(A, ((1 + conf)[:, None] * Fi).sum(axis=0))

    Xt = X.T.tocsr()
    for _ in range(iterations):
        step(X, V, U)
        step(Xt, U, V)
    return V


class ProfileVector:
    """The untrained profile: mean of the history's feature vectors, cosine to every item."""

    def __init__(self, features: np.ndarray, recent: int = 50) -> None:
        f = np.asarray(features, dtype=np.float32)
        self.f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-9)
        self.recent = recent

    def __call__(self, histories, types=None) -> np.ndarray:
        q = np.stack([self.f[h[-self.recent :]].mean(axis=0) for h in histories])
        return q @ self.f.T


class LastItemVector(ProfileVector):
    """Nearest neighbours of the last item's feature vector (text/image only, no behaviour)."""

    def __call__(self, histories, types=None) -> np.ndarray:
        return self.f[[h[-1] for h in histories]] @ self.f.T


def standard_baselines(
    train: list[list[int]], features: np.ndarray, n_items: int, counts: np.ndarray | None = None
) -> dict[str, Scorer]:
    """All baselines of the report, fitted on ``train``; ``counts`` overrides popularity."""
    counts = item_counts(train, n_items) if counts is None else counts
    return {
        "popularity": Popularity(counts),
        "repurchase then popularity": Repurchase(counts),
        "last-item transitions": Transitions(train, n_items, counts),
        "item co-occurrence kNN": CoocKNN(train, n_items, counts),
        "transitions + co-occurrence": TransitionsCooc(train, n_items, counts),
        "ALS (implicit)": ALS(train, n_items),
        "profile vector (mean of history)": ProfileVector(features),
        "last-item vector kNN": LastItemVector(features),
    }
