"""Serving: the active behaviour model turns a shopper's recent events into a query vector.

    query = behaviour_query(user_id, session_key)                   # BehaviourQuery, or None
    hits = nearest(query.vector, version=query.version, k=20)       # the usual pgvector query

The model scores product ``i`` by ``cos(h, o_i) / temperature`` (:mod:`recommender.behaviour.model`):
``h`` is the shopper's state after their newest event, ``o_i`` the product's output vector,
stored in pgvector under the behaviour version (:mod:`recommender.behaviour.item_vectors`).
So ``query.vector = h / |h|`` searched over the behaviour version's rows ranks products as the
model does, with the shop's filters in the same query. ``None`` tells the caller to fall back
to the profile vector: no active behaviour model, a model trained on another encoder version's
vectors, or no history with vectors. A user who opted out of personalisation always gets
``None`` (and no profile either: see :mod:`recommender.privacy`).

The blend: offline evaluation proved best on H&M the model's log-probabilities plus item
co-occurrence ("bought with what you bought"), plus other variants of the products the shopper had
(their product families), plus what everybody bought in the last week (recent popularity), plus
the shopper's own purchases, each weighted. Training tunes the weights on validation
(:func:`recommender.training.behaviour.train.tune_blend_chain`) and stores them in the version's
``metrics["cooccurrence_weight"]``, ``metrics["family_weight"]``, ``metrics["popularity_weight"]``
and ``metrics["repurchase_weight"]``, the co-occurrence neighbours and family siblings in its
artifact (:mod:`recommender.behaviour.cooccurrence`), the popularity beside them
(:mod:`recommender.behaviour.popularity`). "For you" blends::

    query = behaviour_query(user_id, session_key)    # vector, scale, weights, co-occurrence, families, popularity
    hits = nearest(query.vector, version=query.version, ...)   # the model's candidates
    own = own_purchases(user_id, session_key, ranker=query.buy_again, price_version=encoder_version)
                                                     # product key -> 0.9 ** rank (learned order)
    ranked = blend_scores(query, similarities, own)  # cos of hits, co-occurring, sibling, popular, purchased products

A weight of 0 (untuned, or a version without a co-occurrence file) leaves its part out; a version
with neither serves the model's pgvector order alone.

This module and the ones it imports run in the web process: no torch at import (only when
:mod:`.loading` loads a model, which it keeps per active version, with its co-occurrence table)
and nothing of :mod:`recommender.training`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import OuterRef, Subquery

from recommender.behaviour.codes import EVENT_TYPES
from recommender.behaviour.cooccurrence import NEIGHBOURS, CooccurrenceTable
from recommender.behaviour.loading import (
    LoadedVersion,
    artifact_path,
    clear_cache,
    load_version,
)
from recommender.behaviour.repurchase import OWN_LAST, BuyAgainRanker, own_purchase_scores
from recommender.models import Event, EventType, ModelVersion, ProductVector
from recommender.privacy import personalisation_enabled
from recommender.profiles import product_vectors
from recommender.shoppers import ShopperFacts
from recommender.versions import serving_version

__all__ = [
    "BehaviourQuery",
    "KeyedScores",
    "LoadedVersion",
    "artifact_path",
    "behaviour_query",
    "behaviour_user_vector",
    "blend_scores",
    "clear_cache",
    "cooccurrence_scores",
    "cooccurrence_weight",
    "family_weight",
    "load_version",
    "measured_diversity",
    "own_purchases",
    "popularity_weight",
    "repurchase_weight",
]

logger = logging.getLogger(__name__)

# Serialises the switch of torch's process-wide thread count (see ``_one_thread``).
_THREADS_LOCK = threading.Lock()


@contextmanager
def _one_thread(torch: Any) -> Iterator[None]:
    """Torch on one intra-op thread for the duration, then as before.

    One shopper's forward pass is too small to gain from a thread pool, and the pool's workers,
    spinning after each parallel region, take the cores Postgres and the other requests need: on
    2 cores, ``recommend("for_you")`` with the behaviour model on ``bench/api_latency.py``'s data
    went from p50 8.0 / p95 about 15 ms to 7.4 / 11.5 ms with this switch (torch's default 2
    threads otherwise; alternating, 6 rounds). The count is process-wide, so
    the switch and the pass hold a lock: a concurrent request cannot restore it mid-pass or leave
    it at one for the process's other torch work (training, eager embedding tasks).
    """
    with _THREADS_LOCK:
        previous = torch.get_num_threads()
        if previous != 1:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if previous != 1:
                torch.set_num_threads(previous)


def recent_history(
    user_id: Any, session_key: str, event_types: list[str], limit: int, shopper: ShopperFacts | None = None
) -> list[tuple[str, str]]:
    """(product key, type) of the shopper's newest events, oldest first, repeats collapsed.

    ``shopper``: what the request already read about them; its newest events answer when they
    reach far enough back (no second read of the events), else the events table does.
    """
    if user_id is None and not session_key:
        return []
    rows = shopper.newest(tuple(event_types), limit * 3) if shopper is not None else None
    if rows is None:
        rows = Event.objects.of_shopper(user_id, session_key).product_history(event_types, limit * 3)
    out: list[tuple[str, str]] = []
    for key, type_ in reversed(rows):
        if out and out[-1][0] == key:
            out[-1] = (key, type_ if type_ == "purchase" else out[-1][1])
            continue
        out.append((key, type_))
    return out[-limit:]


@dataclass(frozen=True)
class BehaviourQuery:
    """The active behaviour model's view of one shopper.

    The model's logit of product ``i`` is ``cos(h, o_i) / temperature``. ``vector`` is
    ``h / |h|``, what pgvector is queried with over ``version``'s rows (the output vectors
    ``o_i``), so a pgvector similarity ``s_i`` is the logit divided by ``scale = 1 / temperature``.
    ``cooccurrence`` holds the shopper's co-occurrence scores (product key -> 0..1, best first;
    empty when its weight is 0), ``family`` their family scores (other variants of the products
    they had, the same way), ``popularity`` every product's recent popularity (0..1, empty when
    its weight is 0) and ``popular`` the most popular products, best first (its candidates);
    ``diversity_lambda`` the λ training measured for this blend (:func:`measured_diversity`).
    """

    vector: np.ndarray
    scale: float
    repurchase_weight: float
    cooccurrence_weight: float = 0.0
    cooccurrence: Mapping[str, float] = field(default_factory=dict)
    version: ModelVersion | None = None
    family_weight: float = 0.0
    family: Mapping[str, float] = field(default_factory=dict)
    buy_again: BuyAgainRanker | None = None
    popularity_weight: float = 0.0
    popularity: Mapping[str, float] = field(default_factory=dict)
    popular: tuple[str, ...] = ()
    diversity_lambda: float | None = None


class KeyedScores(Mapping[str, float]):
    """Per-item scores (an array over a version's items) read by product key, without a dict per request."""

    def __init__(self, index: Mapping[str, int], scores: np.ndarray) -> None:
        self.index, self.scores = index, scores

    def __getitem__(self, key: str) -> float:
        return float(self.scores[self.index[key]])

    def __iter__(self) -> Iterator[str]:
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)


def _tuned_weight(version: ModelVersion, name: str) -> float:
    try:
        weight = float((version.metrics or {}).get(name) or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return weight if math.isfinite(weight) and weight > 0 else 0.0


def repurchase_weight(version: ModelVersion) -> float:
    """The version's tuned weight of the shopper's own purchases (0 when untuned or invalid)."""
    return _tuned_weight(version, "repurchase_weight")


def cooccurrence_weight(version: ModelVersion) -> float:
    """The version's tuned weight of item co-occurrence (0 when untuned or invalid).

    Serving also needs the version's table: :func:`behaviour_query` uses 0 without one.
    """
    return _tuned_weight(version, "cooccurrence_weight")


def family_weight(version: ModelVersion) -> float:
    """The version's tuned weight of product families (0 when untuned, invalid or absent)."""
    return _tuned_weight(version, "family_weight")


def popularity_weight(version: ModelVersion) -> float:
    """The version's tuned weight of recent popularity (0 when untuned, invalid or absent)."""
    return _tuned_weight(version, "popularity_weight")


def measured_diversity(version: ModelVersion) -> float | None:
    """The diversity λ the version's training kept on the shop's validation shoppers (what "auto"
    diversity serves "for you" with: :mod:`recommender.training.behaviour.diversity_cost`), or None
    when unmeasured or invalid."""
    try:
        value = float((version.metrics or {})["diversity_lambda"])
    except (KeyError, TypeError, ValueError):
        return None
    return value if 0.0 <= value <= 1.0 else None


def cooccurrence_scores(
    loaded: LoadedVersion, history: list[tuple[str, str]], table: CooccurrenceTable | None = None
) -> dict[str, float]:
    """The shopper's co-occurrence scores, product key -> 0..1, best first, from ``history``
    ((key, type), oldest first, as :func:`recent_history` returns it); {} without a table.
    ``table``: another of the version's neighbour tables (its family siblings), scored the same way.

    :meth:`~recommender.behaviour.cooccurrence.CooccurrenceTable.scores`, the score the weight
    was tuned with; products the version never saw are left out of the history.
    """
    table = table if table is not None else loaded.cooccurrence
    if table is None:
        return {}
    items, scores = table.scores([loaded.index[k] for k, _ in history if k in loaded.index])
    return {loaded.keys[i]: float(s) for i, s in zip(items.tolist(), scores.tolist(), strict=True)}


def behaviour_user_vector(
    user_id: Any, session_key: str = "", *, encoder_version: ModelVersion | None = None
) -> np.ndarray | None:
    """The shopper's state from the active behaviour model (unit length), or None.

    It is queried against the behaviour version's product rows (``BehaviourQuery.version``), not
    the encoder's. None too for a user who opted out of personalisation.
    """
    query = behaviour_query(user_id, session_key, encoder_version=encoder_version)
    return query.vector if query is not None else None


def behaviour_query(
    user_id: Any,
    session_key: str = "",
    *,
    encoder_version: ModelVersion | None = None,
    version: ModelVersion | None = None,
    opted_in: bool | None = None,
    shopper: ShopperFacts | None = None,
) -> BehaviourQuery | None:
    """:func:`behaviour_user_vector` with its scale, the version's blend weights and the shopper's
    co-occurrence scores (see :class:`BehaviourQuery`), or None. ``version``: a pinned behaviour
    version (an experiment variant's), else the active one; ``opted_in``: whether the shopper may
    be personalised, when the caller already read it; ``shopper``: their facts, when the caller
    read them (their newest events spare a read: :func:`recent_history`)."""
    version = version or ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR)
    if version is None:
        return None
    if not (opted_in if opted_in is not None else personalisation_enabled(user_id)):
        return None
    encoder_version = encoder_version or serving_version()
    if encoder_version is None or int(version.config.get("encoder_version_id") or -1) != encoder_version.pk:
        logger.debug("Behaviour model %s was trained on another encoder version's vectors", version.pk)
        return None
    try:
        loaded = load_version(version)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        logger.warning("Behaviour model %s could not be loaded (%s); using profile vectors", version.pk, exc)
        return None
    model, index = loaded.model, loaded.index
    hyper = loaded.config["hyperparameters"]
    history = recent_history(user_id, session_key, list(hyper["event_types"]), int(hyper["max_len"]), shopper)
    if not history:
        return None
    vectors = product_vectors(encoder_version, [k for k, _ in history])
    history = [(k, t) for k, t in history if k in vectors]
    if not history:
        return None
    import torch

    items = torch.tensor([[index.get(k, -1) + 1 for k, _ in history]])  # 0: a product the model never saw
    types = torch.tensor([[EVENT_TYPES.get(t, EVENT_TYPES["view"]) for _, t in history]])
    feats = torch.from_numpy(np.stack([vectors[k] for k, _ in history]))[None]
    with _one_thread(torch), torch.inference_mode():
        state = model(items, types, feats=feats, padding=torch.zeros_like(items, dtype=torch.bool))[0, -1]
    state = state.float().numpy()
    norm = float(np.linalg.norm(state))
    if not norm > 0 or not math.isfinite(norm):
        return None
    cooc_weight = cooccurrence_weight(version) if loaded.cooccurrence is not None else 0.0
    fam_weight = family_weight(version) if loaded.families is not None else 0.0
    popular = loaded.popularity
    pop_weight = popularity_weight(version) if popular is not None else 0.0
    return BehaviourQuery(
        (state / norm).astype(np.float32),
        1.0 / model.temperature,
        repurchase_weight(version),
        cooc_weight,
        cooccurrence_scores(loaded, history) if cooc_weight > 0 else {},
        version,
        fam_weight,
        cooccurrence_scores(loaded, history, loaded.families) if fam_weight > 0 else {},
        BuyAgainRanker.from_dict(((version.metrics or {}).get("repurchase") or {}).get("ranker")),
        pop_weight,
        KeyedScores(index, popular.scores) if popular is not None and pop_weight > 0 else {},
        tuple(loaded.keys[i] for i in popular.top(NEIGHBOURS)) if popular is not None and pop_weight > 0 else (),
        measured_diversity(version),
    )


def own_purchases(
    user_id: Any,
    session_key: str,
    *,
    ranker: BuyAgainRanker | None = None,
    price_version: ModelVersion | None = None,
) -> dict[str, float]:
    """The shopper's purchased product keys -> own-purchase score (best 1.0, then 0.9, 0.81, ...).

    The score of :func:`recommender.behaviour.repurchase.own_purchase_scores`, the one the
    weight was tuned with: distinct products ranked by their newest purchase, in the order
    training reads events (time, then the order they were recorded), then by ``ranker`` with the
    prices stored in ``price_version`` (the encoder version training read them from). Purchases
    of one order share a timestamp; ranking those by product key instead served "all" MAP@12
    0.1657 where the offline blend of the same version scores 0.1706 on H&M
    (``bench/results/served_evaluation.md``).
    """
    if user_id is None and not session_key:
        return {}
    newest_per_product = (
        Event.objects.of_shopper(user_id, session_key)
        .filter(type=EventType.PURCHASE)
        .exclude(product_key="")
        .order_by("product_key", "-created_at", "-pk")
        .distinct("product_key")
        .values("pk")
    )
    rows = Event.objects.filter(pk__in=newest_per_product).order_by("-created_at", "-pk")
    if ranker is None or price_version is None:
        return own_purchase_scores(reversed(list(rows.values_list("product_key", flat=True)[:OWN_LAST])))
    price = ProductVector.objects.filter(version=price_version, product_key=OuterRef("product_key")).values("price")
    newest_first = list(rows.annotate(price=Subquery(price[:1])).values_list("product_key", "price")[:OWN_LAST])
    prices = {key: float(value) for key, value in newest_first if value is not None}
    return own_purchase_scores(reversed([key for key, _ in newest_first]), ranker=ranker, prices=prices)


def blend_scores(
    query: BehaviourQuery, similarities: dict[str, float], own: dict[str, float]
) -> list[tuple[str, float]]:
    """(product key, score) best first: the offline ``Blend`` order, in pgvector similarity units.

    ``similarities`` holds ``cos(h, o_i)`` of every candidate (pgvector's for the model's
    nearest products, computed from the stored output vectors for the others), ``own`` the
    own-purchase scores, ``query.cooccurrence`` the co-occurrence scores, ``query.family`` the
    family scores and ``query.popularity`` the recent popularity. The offline blend nests one
    ``Blend`` per part (model, then co-occurrence ``w_c``, families ``w_f``, recent popularity
    ``w_p``, own purchases ``w_r``): ``log_softmax(... log_softmax(logits) + w_c · cooc ...)_i +
    w_r · own_i`` with ``logits_i = scale · cos_i`` (``scale = 1 / temperature``); each
    log-softmax subtracts one number per shopper, so::

        blend_i = scale · (cos_i + (w_c · cooc_i + w_f · fam_i + w_p · pop_i + w_r · own_i) / scale) + constant

    and the score returned is ``cos_i + (w_c · cooc_i + w_f · fam_i + w_p · pop_i + w_r · own_i) / scale``:
    the same order as the blend over the candidates, while a model candidate with no other part
    keeps its pgvector similarity, the score the profile path gives. With every purchased product
    among the candidates, a product outside them scores at most the lowest hit's cosine plus, for
    each table part, its weight over ``scale`` times the best score it left out, so the top of the
    list is the catalogue's top too down to that score. Scores stay positive-scaled similarities
    rather than log-probabilities because merchandising boosts multiply scores and diversity
    rescales them.
    """
    steps = [
        (weight / query.scale, part)
        for weight, part in (
            (query.cooccurrence_weight, query.cooccurrence),
            (query.family_weight, query.family),
            (query.popularity_weight, query.popularity),
            (query.repurchase_weight, own),
        )
        if weight > 0
    ]
    scored = []
    for key, sim in similarities.items():
        score = float(sim)
        for step, part in steps:  # left to right, as before popularity joined: the same floats
            score += step * part.get(key, 0.0)
        scored.append((key, score))
    return sorted(scored, key=lambda row: -row[1])
