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


def jpeg_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (48, 64)) -> bytes:
    """A real JPEG: a coloured garment-like shape on white."""
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).rectangle([size[0] // 5, size[1] // 6, size[0] * 4 // 5, size[1] * 5 // 6], fill=colour)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def product_with_image(name: str, description: str, rgb: tuple[int, int, int] | None, **fields):
    """A test product, saved with an image file (shape of colour ``rgb``) in MEDIA_ROOT when given."""
    from django.core.files.base import ContentFile

    from tests.testapp.models import Product

    product = Product(name=name, description=description, **fields)
    if rgb is not None:
        product.image.save(f"{name.replace(' ', '_')}.jpg", ContentFile(jpeg_bytes(rgb)), save=False)
    product.save()
    return product


def names(recs, keys: dict[str, str]) -> list[str]:
    """The names (keys of ``keys``, e.g. ``vector_shop``) of a recommendation list, in order."""
    back = {v: k for k, v in keys.items()}
    return [back[k] for k in recs.keys]
