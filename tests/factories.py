"""Host-like objects for tests: products of the test models and clustered vectors."""

from __future__ import annotations

import numpy as np

from recommender.models import ModelVersion


def encoder_version(dimensions: int = 8, *, state: str = ModelVersion.State.ACTIVE, name: str = "test") -> ModelVersion:
    return ModelVersion.objects.create(
        kind=ModelVersion.Kind.ENCODER, name=name, dimensions=dimensions, state=state, config={"MODEL": "test"}
    )


def clustered_vectors(n: int, dims: int, clusters: int, *, spread: float = 0.3, seed: int = 0) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres: realistic neighbour structure for HNSW."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dims))
    labels = rng.integers(0, clusters, size=n)
    vecs = centres[labels] + spread * rng.normal(size=(n, dims))
    return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
