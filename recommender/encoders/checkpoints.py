"""Refuse pickle checkpoints on a torch whose ``torch.load(weights_only=True)`` is not safe.

Usage::

    check_checkpoint("models/clip/open_clip_pytorch_model.bin", setting=PRETRAINED_SETTING)
    check_checkpoint("models/clip/open_clip_model.safetensors", setting=...)   # always fine

``.bin`` / ``.pt`` / ``.pth`` files are pickles. open_clip (and the behaviour model) load them
with ``weights_only=True``, which before torch 2.6 could still run code from a crafted file
(CVE-2025-32434). The package requires torch >= 2.6; this guard keeps an environment that ignored
the pin from loading a pickle anyway. safetensors files hold tensors only and are always allowed.
"""

from __future__ import annotations

import os
import re

import torch

from .base import EncoderLoadError

__all__ = ["SAFE_TORCH", "check_checkpoint", "torch_load_is_safe"]

# The first torch release whose weights_only unpickler no longer allows code execution.
SAFE_TORCH = (2, 6, 0)
SAFE_SUFFIX = ".safetensors"
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?(.*)")


def torch_load_is_safe(torch_version: str) -> bool:
    """Whether ``torch.load(weights_only=True)`` of this torch version (``"2.5.1+cu121"``) is safe.

    A pre-release of the first safe version (``"2.6.0a0+git…"``) is not: the fix may postdate it.
    An unreadable version string counts as unsafe.
    """
    match = _VERSION.match(torch_version.strip())
    if match is None:
        return False
    release = (int(match[1]), int(match[2]), int(match[3] or 0))
    suffix = match[4].split("+", 1)[0]
    if release == SAFE_TORCH and re.match(r"\.?(a|b|rc|dev)", suffix):
        return False
    return release >= SAFE_TORCH


def check_checkpoint(checkpoint: str | os.PathLike[str], *, setting: str, torch_version: str | None = None) -> None:
    """Raise :class:`EncoderLoadError` when ``checkpoint`` is not safetensors and torch is too old.

    ``checkpoint`` is a file name, or what will be downloaded (a tag or ``hf-hub:`` id, which may
    turn out to be a pickle). ``torch_version`` defaults to the installed torch.
    """
    version = torch_version or torch.__version__
    if str(checkpoint).endswith(SAFE_SUFFIX) or torch_load_is_safe(version):
        return
    raise EncoderLoadError(
        f"{setting}: refusing to load {os.fspath(checkpoint)!r} with torch {version}: before torch 2.6, "
        "torch.load(weights_only=True) can run code hidden in a .bin/.pt/.pth pickle (CVE-2025-32434). "
        "Upgrade torch to 2.6 or later (the package requires it), or use safetensors weights."
    )
