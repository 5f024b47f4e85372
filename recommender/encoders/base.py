"""The encoder interface every backend implements, and the error raised when one cannot load.

Usage::

    from recommender.encoders import get_encoder

    encoder = get_encoder({"MODEL": "ViT-B-32", "PRETRAINED": "laion2b_s34b_b79k"})
    image_vectors = encoder.encode_images([pil_image, ...])   # float32 (n, encoder.dimensions)
    text_vectors = encoder.encode_texts(["black summer dress"])

Rows are L2-normalised, so a dot product is the cosine similarity that pgvector's
``vector_cosine_ops`` ranks by. This module imports neither torch nor open_clip: code that
only needs the interface (storage, checks) stays importable without the ``clip`` extra.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np
from django.core.exceptions import ImproperlyConfigured
from PIL import Image

__all__ = ["Encoder", "EncoderLoadError"]


class EncoderLoadError(ImproperlyConfigured):
    """The configured encoder could not be built; the message names the setting to change."""


class Encoder(abc.ABC):
    """Turns product images and texts into vectors of one shared space.

    ``version`` identifies the weights and preprocessing: two encoders with the same version
    give the same vectors, so stored vectors are keyed by it. ``dimensions`` is the vector size.
    """

    version: str
    dimensions: int
    # False for text-only encoders (USE-m3): indexing then embeds product texts alone.
    encodes_images: bool = True

    @abc.abstractmethod
    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Float32 array of shape (len(images), dimensions) with unit-length rows."""

    @abc.abstractmethod
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 array of shape (len(texts), dimensions) with unit-length rows."""

    def empty(self) -> np.ndarray:
        """The (0, dimensions) result for an empty input."""
        return np.zeros((0, self.dimensions), dtype=np.float32)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.version} ({self.dimensions}-d)>"
