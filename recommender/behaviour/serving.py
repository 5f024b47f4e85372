"""Serving: the active behaviour model turns a shopper's recent events into a query vector.

    vector = behaviour_user_vector(user_id, session_key)       # np.ndarray, or None
    hits = nearest(vector, version=serving_version(), k=20)   # the usual pgvector query

The vector lives in the serving encoder version's fused-vector space (``q = Wᵀ h``, see
:mod:`recommender.behaviour.model`), so the pgvector nearest-neighbour search over the stored
``embedding`` column ranks products as the model does. ``None`` tells the caller to fall back
to the profile vector: no active behaviour model, a model trained on another encoder version's
vectors, or no history with vectors. A user who opted out of personalisation always gets
``None`` (and no profile either: see :mod:`recommender.privacy`).

Buying again: when the active version has a positive ``metrics["repurchase_weight"]`` (tuned
at training, :func:`recommender.behaviour.train.tune_repurchase`) "for you" blends the model
with the shopper's own purchases, as offline evaluation proved best on H&M::

    query = behaviour_query(user_id, session_key)               # vector, scale |q|, weight
    hits = nearest(query.vector, ...)                           # the model's candidates
    own = own_purchases(user_id, session_key)                   # product key -> 0.9 ** recency
    ranked = blend_scores(query, {**purchased_similarities, **dict(hits)}, own)

Only this module runs in the web process; it imports torch lazily and keeps one loaded model
per active version.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender.models import Event, ModelVersion

__all__ = [
    "BehaviourQuery",
    "active_behaviour_version",
    "artifact_path",
    "behaviour_query",
    "behaviour_user_vector",
    "blend_scores",
    "clear_cache",
    "load_version",
    "own_purchases",
    "repurchase_weight",
]

logger = logging.getLogger(__name__)
_LOCK = threading.Lock()
_LOADED: dict[tuple[int, str], tuple[Any, dict[str, int], dict[str, Any]]] = {}


def active_behaviour_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=ModelVersion.Kind.BEHAVIOUR, state=ModelVersion.State.ACTIVE).first()


def artifact_path(version: ModelVersion) -> Path:
    """The version's folder; relative artifacts are under MODEL_DIR."""
    from recommender.versions import model_dir

    path = Path(version.artifact)
    return path if path.is_absolute() else model_dir() / path


def load_version(version: ModelVersion) -> tuple[Any, dict[str, int], dict[str, Any]]:
    """(model in eval mode, item key -> index, config), cached per version and artifact."""
    key = (int(version.pk), str(version.artifact))
    with _LOCK:
        if key not in _LOADED:
            from recommender.behaviour.model import load_artifact

            model, keys, config = load_artifact(artifact_path(version))
            _LOADED.clear()  # one active version at a time
            _LOADED[key] = (model, {k: i for i, k in enumerate(keys)}, config)
        return _LOADED[key]


def clear_cache() -> None:
    with _LOCK:
        _LOADED.clear()


def recent_history(user_id: Any, session_key: str, event_types: list[str], limit: int) -> list[tuple[str, str]]:
    """(product key, type) of the shopper's newest events, oldest first, repeats collapsed."""
    from recommender.profiles import owner_filter

    if user_id is None and not session_key:
        return []
    rows = list(
        Event.objects.filter(owner_filter(user_id, session_key), type__in=event_types)
        .exclude(product_key="")
        .order_by("-created_at", "-pk")
        .values_list("product_key", "type")[: limit * 3]
    )
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

    The model's logit of product ``i`` is ``q · x_i + c`` (``c`` the same for every product, see
    :mod:`recommender.behaviour.model`). ``vector`` is ``q / |q|``, what pgvector is queried
    with; the stored ``x_i`` are unit length, so a pgvector similarity ``s_i = cos(q, x_i)``
    is the logit divided by ``scale = |q|``, minus a constant.
    """

    vector: np.ndarray
    scale: float
    repurchase_weight: float


def repurchase_weight(version: ModelVersion) -> float:
    """The version's tuned weight of the shopper's own purchases (0 when untuned or invalid)."""
    try:
        weight = float((version.metrics or {}).get("repurchase_weight") or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return weight if math.isfinite(weight) and weight > 0 else 0.0


def behaviour_user_vector(
    user_id: Any, session_key: str = "", *, encoder_version: ModelVersion | None = None
) -> np.ndarray | None:
    """The shopper's query vector from the active behaviour model (unit length), or None.

    None too for a user who opted out of personalisation.
    """
    query = behaviour_query(user_id, session_key, encoder_version=encoder_version)
    return query.vector if query is not None else None


def behaviour_query(
    user_id: Any, session_key: str = "", *, encoder_version: ModelVersion | None = None
) -> BehaviourQuery | None:
    """:func:`behaviour_user_vector` with its scale and the version's repurchase weight, or None."""
    version = active_behaviour_version()
    if version is None:
        return None
    from recommender.privacy import personalisation_enabled

    if not personalisation_enabled(user_id):
        return None
    from recommender.versions import serving_version

    encoder_version = encoder_version or serving_version()
    if encoder_version is None or int(version.config.get("encoder_version_id") or -1) != encoder_version.pk:
        logger.debug("Behaviour model %s was trained on another encoder version's vectors", version.pk)
        return None
    try:
        model, index, config = load_version(version)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        logger.warning("Behaviour model %s could not be loaded (%s); using profile vectors", version.pk, exc)
        return None
    hyper = config["hyperparameters"]
    history = recent_history(user_id, session_key, list(hyper["event_types"]), int(hyper["max_len"]))
    if not history:
        return None
    from recommender.profiles import product_vectors

    vectors = product_vectors(encoder_version, [k for k, _ in history])
    history = [(k, t) for k, t in history if k in vectors]
    if not history:
        return None
    import torch

    from recommender.behaviour.data import EVENT_TYPES

    items = torch.tensor([[index.get(k, -1) + 1 for k, _ in history]])  # 0: a product the model never saw
    types = torch.tensor([[EVENT_TYPES.get(t, EVENT_TYPES["view"]) for _, t in history]])
    feats = torch.from_numpy(np.stack([vectors[k] for k, _ in history]))[None]
    with torch.inference_mode():
        state = model(items, types, feats=feats, padding=torch.zeros_like(items, dtype=torch.bool))[:, -1]
        query = model.query_vectors(state)[0].float().numpy()
    norm = float(np.linalg.norm(query))
    if not norm > 0 or not math.isfinite(norm):
        return None
    return BehaviourQuery((query / norm).astype(np.float32), norm, repurchase_weight(version))


def own_purchases(user_id: Any, session_key: str) -> dict[str, float]:
    """The shopper's purchased product keys -> own-purchase score (newest 1.0, then 0.9, 0.81, ...).

    The score of :func:`recommender.behaviour.repurchase.own_purchase_scores`, the one the
    weight was tuned with: distinct products ranked by their newest purchase.
    """
    from django.db.models import Max

    from recommender.behaviour.repurchase import OWN_LAST, own_purchase_scores
    from recommender.models import EventType
    from recommender.profiles import owner_filter

    if user_id is None and not session_key:
        return {}
    newest_first = list(
        Event.objects.filter(owner_filter(user_id, session_key), type=EventType.PURCHASE)
        .exclude(product_key="")
        .values("product_key")
        .annotate(last=Max("created_at"))
        .order_by("-last", "product_key")
        .values_list("product_key", flat=True)[:OWN_LAST]
    )
    return own_purchase_scores(reversed(newest_first))


def blend_scores(
    query: BehaviourQuery, similarities: dict[str, float], own: dict[str, float]
) -> list[tuple[str, float]]:
    """(product key, score) best first: the offline ``Blend`` order, in pgvector similarity units.

    ``similarities`` holds ``cos(q, x_i)`` of every candidate (pgvector's for the model's
    nearest products, computed from the stored vectors for purchased ones), ``own`` the
    own-purchase scores. The offline blend is ``log_softmax(logits)_i + w · own_i`` with
    ``logits_i = |q| · cos_i + c``; the log-softmax subtracts one number per shopper, so::

        blend_i = |q| · (cos_i + (w / |q|) · own_i) + constant

    and the score returned is ``cos_i + (w / |q|) · own_i``: the same order as the blend (over
    the candidates, and since they are the model's top products plus every purchased one, over
    the catalogue's top too), while a model candidate keeps its pgvector similarity, the score
    the profile path gives. Scores stay positive-scaled similarities rather than
    log-probabilities because merchandising boosts multiply scores and diversity rescales them.
    """
    step = query.repurchase_weight / query.scale
    scored = [(key, float(sim) + step * own.get(key, 0.0)) for key, sim in similarities.items()]
    return sorted(scored, key=lambda row: -row[1])
