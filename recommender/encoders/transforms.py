"""A model's own image preprocessing, split into geometry (PIL -> uint8 pixels) and normalisation.

Usage::

    to_pixels = PixelTransform(open_clip.get_model_preprocess_cfg(model))
    batch = torch.stack([to_pixels(image) for image in images])    # uint8 (n, 3, H, W)
    inputs = to_pixels.normalize(batch)                              # float32, model-ready

The split exists so that training can cache the uint8 pixels once (4x smaller than floats) and
serving still feeds the model exactly the values open_clip's eval transform would: the resize
and crop/pad run on PIL images, so the pixels are integers before ``ToTensor`` divides by 255.
For ``resize_mode="longest"`` the image is padded to a square on ``fill_color`` first
(:func:`recommender.images.pad_to_square`), which makes open_clip's resize-then-pad a plain resize;
an image longer than ``MAX_WORKING_SIDE`` is shrunk before it is padded, so an elongated upload
never turns into a canvas of its long side squared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from open_clip.transform import PreprocessCfg, image_transform_v2, merge_preprocess_dict
from PIL import Image
from torchvision.transforms import Normalize
from torchvision.transforms.functional import pil_to_tensor

from recommender.images import pad_to_square, to_rgb

__all__ = ["PixelTransform"]


class PixelTransform:
    """PIL image -> uint8 (3, H, W) tensor, as the model's eval transform sees it before normalising."""

    def __init__(self, preprocess_cfg: Mapping[str, Any]) -> None:
        self.cfg = PreprocessCfg(**merge_preprocess_dict(PreprocessCfg(), dict(preprocess_cfg)))
        full = image_transform_v2(self.cfg, is_train=False)
        # open_clip's eval pipeline is [resize, crop-or-pad, convert mode, to-tensor, normalise];
        # keep the PIL steps, drop the tensor conversion and normalisation.
        self._geometry = [step for step in full.transforms if _is_pil_step(step)]
        fill = int(self.cfg.fill_color)
        self._fill = (fill, fill, fill)
        self._pad_first = self.cfg.resize_mode == "longest"
        self._mean = torch.tensor(self.cfg.mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(self.cfg.std, dtype=torch.float32).view(1, 3, 1, 1)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        image = to_rgb(image)
        if self._pad_first:
            image = pad_to_square(image, fill=self._fill)
        for step in self._geometry:
            image = step(image)
        return pil_to_tensor(image.convert("RGB"))

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (n, 3, H, W) -> float32 normalised with the model's mean and std."""
        # Same arithmetic as ToTensor + Normalize, so the values match open_clip's transform exactly.
        pixels = pixels.to(torch.float32).div_(255.0)
        return (pixels - self._mean.to(pixels.device)) / self._std.to(pixels.device)


def _is_pil_step(step: object) -> bool:
    name = type(step).__name__
    return not isinstance(step, Normalize) and name not in ("MaybeToTensor", "ToTensor")
