"""Keep the active behaviour version's product output vectors in step with activation and embedding.

Call :func:`connect` once at start-up (``RecommenderConfig.ready()``); it is idempotent. The
signals are declared in :mod:`recommender.signals`, so ``versions`` and ``indexing`` never import
the behaviour package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recommender.behaviour.item_vectors import activate_item_vectors, refresh_item_vectors
from recommender.models import ModelVersion
from recommender.signals import products_indexed, version_activating

__all__ = ["connect", "products_indexed_received", "version_activating_received"]


def version_activating_received(sender: Any, version: ModelVersion, **kwargs: Any) -> None:
    """A behaviour version serves from its product output vectors: write them (and their index)."""
    if version.kind == ModelVersion.Kind.BEHAVIOUR:
        activate_item_vectors(version)


def products_indexed_received(sender: Any, version: ModelVersion, keys: Sequence[str], **kwargs: Any) -> None:
    """Products just embedded in the active encoder version get the active behaviour version's rows."""
    if version.state == ModelVersion.State.ACTIVE:
        refresh_item_vectors(keys, version)


def connect() -> None:
    """Connect the receivers (safe to call more than once)."""
    version_activating.connect(version_activating_received, dispatch_uid="recommender.behaviour.activate")
    products_indexed.connect(products_indexed_received, dispatch_uid="recommender.behaviour.embedded")
