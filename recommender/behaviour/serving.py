"""Serving: the active behaviour model turns a shopper's recent events into a query vector.

    vector = behaviour_user_vector(user_id, session_key)       # np.ndarray, or None
    hits = nearest(vector, version=serving_version(), k=20)   # the usual pgvector query

The vector lives in the serving encoder version's fused-vector space (``q = Wᵀ h``, see
:mod:`recommender.behaviour.model`), so the pgvector nearest-neighbour search over the stored
``embedding`` column ranks products as the model does. ``None`` tells the caller to fall back
to the profile vector: no active behaviour model, a model trained on another encoder version's
vectors, or no history with vectors.

Only this module runs in the web process; it imports torch lazily and keeps one loaded model
per active version.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from recommender.models import Event, ModelVersion

__all__ = ["active_behaviour_version", "artifact_path", "behaviour_user_vector", "clear_cache", "load_version"]

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


def behaviour_user_vector(
    user_id: Any, session_key: str = "", *, encoder_version: ModelVersion | None = None
) -> np.ndarray | None:
    """The shopper's query vector from the active behaviour model (unit length), or None."""
    version = active_behaviour_version()
    if version is None:
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
    return (query / norm).astype(np.float32) if norm > 0 else None
