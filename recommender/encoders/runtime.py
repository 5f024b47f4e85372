"""Where and at which precision a model runs: ``DEVICE`` and ``PRECISION`` turned into torch objects.

Usage::

    device = resolve_device("auto")                  # cuda when available, else cpu
    with autocast(device, resolve_precision(device, "auto")):
        features = model.encode_image(batch)

Weights always stay float32; lower precision is applied by autocast (AMP), which keeps the
numerically touchy parts (norms, softmax) in float32 and needs no per-model conversion code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .base import EncoderLoadError
from .spec import PRECISIONS

__all__ = ["PRECISIONS", "autocast", "resolve_device", "resolve_precision"]


def resolve_device(name: str | torch.device | None) -> torch.device:
    """``"auto"`` picks CUDA when present; anything torch accepts (``"cuda:1"``, ``"cpu"``) passes through."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise EncoderLoadError(f'RECOMMENDER["ENCODER"]["DEVICE"] = {name!r} is not a torch device ({exc}).') from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EncoderLoadError(
            f'RECOMMENDER["ENCODER"]["DEVICE"] = {name!r} but CUDA is not available here; use "auto" or "cpu".'
        )
    return device


def resolve_precision(device: torch.device, precision: str | None) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``; None means plain float32.

    ``"auto"`` is bf16 on GPUs that support it (no overflow risk), fp16 on older GPUs and fp32
    on CPU, where half precision is slower without AMX/AVX-512 and changes results for no gain.
    """
    precision = precision or "auto"
    if precision not in PRECISIONS:
        raise EncoderLoadError(
            f'RECOMMENDER["ENCODER"]["PRECISION"] = {precision!r}; expected one of {", ".join(PRECISIONS)}.'
        )
    if precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """Autocast to ``dtype`` on ``device``, or nothing for float32."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
