"""The active behaviour version and its artifact as serving holds it: one loaded model per process.

    version = ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR)    # ModelVersion, or None
    loaded = load_version(version)          # LoadedVersion(model, index, config, keys, cooccurrence, families, popularity)
    clear_cache()                           # forget it (tests; a version's artifact changed)

Torch is imported only when a model is actually loaded (:mod:`.model`), never at import, so the
web process imports this module cheaply. Serving (:mod:`.serving`), the output vectors
(:mod:`.item_vectors`) and training (deciding whether a new version beats the active one) read
it; it imports none of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from recommender.behaviour.cooccurrence import FAMILY_FILENAME, CooccurrenceTable, load_table
from recommender.behaviour.popularity import RecentPopularity, load_popularity
from recommender.models import ModelVersion
from recommender.versions import model_dir

__all__ = ["LoadedVersion", "artifact_path", "clear_cache", "load_version"]

logger = logging.getLogger(__name__)
_LOCK = threading.Lock()


class LoadedVersion(NamedTuple):
    """A behaviour version as serving holds it: item ``keys`` in ``items.json`` order, ``index`` their inverse."""

    model: Any
    index: dict[str, int]
    config: dict[str, Any]
    keys: list[str]
    cooccurrence: CooccurrenceTable | None
    families: CooccurrenceTable | None = None
    popularity: RecentPopularity | None = None


_LOADED: dict[tuple[int, str], LoadedVersion] = {}
Part = TypeVar("Part", CooccurrenceTable, RecentPopularity)


def artifact_path(version: ModelVersion) -> Path:
    """The version's folder; relative artifacts are under MODEL_DIR."""
    path = Path(version.artifact)
    return path if path.is_absolute() else model_dir() / path


def load_version(version: ModelVersion) -> LoadedVersion:
    """The model in eval mode, its items, config, co-occurrence and family tables and recent
    popularity; cached per version and artifact."""
    key = (int(version.pk), str(version.artifact))
    with _LOCK:
        if key not in _LOADED:
            # torch only now: a web process without an active behaviour model never imports it
            from recommender.behaviour.model import load_artifact

            folder = artifact_path(version)
            model, keys, config = load_artifact(folder)
            _LOADED.clear()  # one active version at a time
            index = {k: i for i, k in enumerate(keys)}
            _LOADED[key] = LoadedVersion(
                model,
                index,
                config,
                list(keys),
                _load_part(version, "co-occurrence table", len(keys), lambda: load_table(folder)),
                _load_part(version, "family table", len(keys), lambda: load_table(folder, FAMILY_FILENAME)),
                _load_part(version, "popularity", len(keys), lambda: load_popularity(folder)),
            )
        return _LOADED[key]


def _load_part(version: ModelVersion, what: str, n_items: int, load: Callable[[], Part | None]) -> Part | None:
    """``load()``: the version's ``what`` (a neighbour table, or its popularity), read from its
    folder; None (served without it) when missing, unreadable or sized for other items."""
    try:
        part = load()
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("Behaviour model %s: %s unreadable (%s); serving without it", version.pk, what, exc)
        return None
    if part is not None and part.n_items != n_items:
        logger.warning(
            "Behaviour model %s: %s has %s items, the model %s; serving without it",
            version.pk,
            what,
            part.n_items,
            n_items,
        )
        return None
    return part


def clear_cache() -> None:
    with _LOCK:
        _LOADED.clear()
