"""The open_clip encoder: any open_clip model behind the :class:`~recommender.encoders.base.Encoder` interface.

Usage::

    encoder = OpenClipEncoder("ViT-B-32", "laion2b_s34b_b79k", device="auto", batch_size=32)
    encoder = OpenClipEncoder("local-dir:var/models/catalog-clip-hm")     # trained catalog CLIP
    vectors = encoder.encode_images(images)                               # float32, unit rows

Inference runs in eval mode under ``torch.inference_mode()``, in batches of ``batch_size``, with
autocast on CUDA (see :mod:`.runtime`). Images go through the model's own preprocessing
(:class:`.transforms.PixelTransform`). Texts longer than the model's context are truncated by
its tokenizer; empty strings are encoded like any other text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from open_clip.hf_model import HFTextEncoder
from PIL import Image

from .base import Encoder
from .loading import Tokenizer, load_open_clip, make_tokenizer
from .runtime import autocast, resolve_device, resolve_precision
from .transforms import PixelTransform

__all__ = ["OpenClipEncoder"]

# A text is cut to context_length * this many characters before tokenising. Every token covers at
# least one character, and natural-language tokens average ~4, so the context is always full
# long before the cut; it only bounds tokenizer work on megabyte-sized inputs.
MAX_CHARS_PER_TOKEN = 32


class OpenClipEncoder(Encoder):
    """Encodes images and texts with an open_clip model (see module docstring for the ids)."""

    def __init__(
        self,
        model_name: str,
        pretrained: str | None = None,
        *,
        device: str | torch.device = "auto",
        batch_size: int = 32,
        precision: str = "auto",
    ) -> None:
        resolved = resolve_device(device)
        loaded = load_open_clip(model_name, pretrained, device=resolved)
        self._setup(loaded.model, loaded.model_cfg, loaded.tokenizer, loaded.version, resolved, batch_size, precision)

    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        *,
        model_cfg: Mapping[str, Any],
        version: str,
        tokenizer: Tokenizer | None = None,
        batch_size: int = 32,
        precision: str = "auto",
    ) -> OpenClipEncoder:
        """Wrap an in-memory model (e.g. just trained) without saving and reloading it."""
        encoder = cls.__new__(cls)
        device = next(model.parameters()).device
        tokenizer = tokenizer or make_tokenizer(model_cfg)
        encoder._setup(model, dict(model_cfg), tokenizer, version, device, batch_size, precision)
        return encoder

    def _setup(
        self,
        model: torch.nn.Module,
        model_cfg: dict[str, Any],
        tokenizer: Tokenizer,
        version: str,
        device: torch.device,
        batch_size: int,
        precision: str,
    ) -> None:
        if int(batch_size) < 1:
            raise ValueError("batch_size must be at least 1")
        self.model = model.eval()
        self.model_cfg = model_cfg
        self.tokenizer = tokenizer
        self.version = version
        self.device = device
        self.batch_size = int(batch_size)
        self.autocast_dtype = resolve_precision(device, precision)
        self.preprocess_cfg = dict(open_clip.get_model_preprocess_cfg(model))
        self.pixels = PixelTransform(self.preprocess_cfg)
        size = self.pixels.cfg.size
        # Long side of the model's input, in pixels: how small an image may be decoded (indexing).
        self.image_side = int(max(size) if isinstance(size, (tuple, list)) else size)
        self.dimensions = int(model_cfg["embed_dim"])
        text = getattr(model, "text", None)
        # HF towers mask padding, so trailing pad columns can be cut without changing the result;
        # CLIP's own text transformer pools at a fixed position and needs the full context.
        self._pad_id = text.config.pad_token_id if isinstance(text, HFTextEncoder) else None
        self.context_length = int(getattr(tokenizer, "context_length", 0) or 77)

    # -- images ---------------------------------------------------------------------------------

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if len(images) == 0:
            return self.empty()
        chunks = []
        for start in range(0, len(images), self.batch_size):
            batch = torch.stack([self.pixels(image) for image in images[start : start + self.batch_size]])
            chunks.append(self.encode_pixels(batch))
        return np.concatenate(chunks)

    def encode_pixels(self, pixels: torch.Tensor) -> np.ndarray:
        """Encode uint8 (n, 3, H, W) pixels from :attr:`pixels` (training caches them this way)."""
        if len(pixels) == 0:
            return self.empty()
        self._ensure_eval()
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(pixels), self.batch_size):
                batch = self.pixels.normalize(pixels[start : start + self.batch_size].to(self.device))
                if self.device.type == "cpu":
                    batch = batch.contiguous(memory_format=torch.channels_last)
                with autocast(self.device, self.autocast_dtype):
                    features = self.model.encode_image(batch)
                chunks.append(_normalised(features))
        return np.concatenate(chunks)

    # -- texts ----------------------------------------------------------------------------------

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return self.empty()
        self._ensure_eval()
        limit = self.context_length * MAX_CHARS_PER_TOKEN
        cleaned = ["" if text is None else str(text)[:limit] for text in texts]
        # Batch texts of similar length together: less padding to compute on HF towers.
        order = sorted(range(len(cleaned)), key=lambda index: len(cleaned[index]))
        result = np.empty((len(cleaned), self.dimensions), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                tokens = self.tokenizer([cleaned[row] for row in rows])
                if self._pad_id is not None:
                    width = max(int((tokens != self._pad_id).sum(dim=1).max()), 1)
                    tokens = tokens[:, :width]
                with autocast(self.device, self.autocast_dtype):
                    features = self.model.encode_text(tokens.to(self.device))
                result[rows] = _normalised(features)
        return result

    def _ensure_eval(self) -> None:
        # Training flips the shared model to train mode between validations.
        if self.model.training:
            self.model.eval()


def _normalised(features: torch.Tensor) -> np.ndarray:
    """L2-normalise in float32 (after autocast) and hand back a CPU numpy array."""
    return F.normalize(features.float(), dim=-1).cpu().numpy()
