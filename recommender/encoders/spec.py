"""The encoder spec: ``RECOMMENDER["ENCODER"]`` checked and frozen into a hashable value.

Usage::

    spec = EncoderSpec.from_mapping({"MODEL": "ViT-B-32", "PRETRAINED": "laion2b_s34b_b79k"})
    spec.model, spec.batch_size          # "ViT-B-32", 32

Being frozen, a spec is the cache key of :func:`recommender.encoders.get_encoder`: the same
settings in one process share one loaded model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import EncoderLoadError

__all__ = ["DEFAULT_BACKEND", "PRECISIONS", "EncoderSpec"]

# Defined here, not in .runtime (torch), so the package imports without torch.
PRECISIONS = ("auto", "fp32", "fp16", "bf16")

DEFAULT_BACKEND = "recommender.encoders.open_clip_encoder.OpenClipEncoder"
SETTING = 'RECOMMENDER["ENCODER"]'
_KEYS = {"MODEL", "PRETRAINED", "DEVICE", "BATCH_SIZE", "PRECISION", "BACKEND"}


@dataclass(frozen=True)
class EncoderSpec:
    model: str
    pretrained: str | None = None
    device: str = "auto"
    # 32 keeps peak memory of a ViT-B at 224 px under ~1 GB on CPU; raise it on a GPU.
    batch_size: int = 32
    precision: str = "auto"
    # Dotted path of the Encoder class; constructed as Backend(model, pretrained, device=..., ...).
    backend: str = DEFAULT_BACKEND

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any] | EncoderSpec) -> EncoderSpec:
        """Validate a settings-style dict; every problem is an EncoderLoadError naming the key."""
        if isinstance(spec, EncoderSpec):
            return spec
        if not isinstance(spec, Mapping):
            raise EncoderLoadError(f"{SETTING} must be a dict, not {type(spec).__name__}.")
        unknown = set(spec) - _KEYS
        if unknown:
            raise EncoderLoadError(f"{SETTING} has unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}.")
        model = spec.get("MODEL")
        if not isinstance(model, str) or not model.strip():
            raise EncoderLoadError(f'{SETTING}["MODEL"] must name an open_clip model, got {model!r}.')
        pretrained = spec.get("PRETRAINED")
        if pretrained is not None and not isinstance(pretrained, str):
            raise EncoderLoadError(f'{SETTING}["PRETRAINED"] must be a string or None, got {pretrained!r}.')
        batch_size = spec.get("BATCH_SIZE", cls.batch_size)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise EncoderLoadError(f'{SETTING}["BATCH_SIZE"] must be a positive integer, got {batch_size!r}.')
        precision = spec.get("PRECISION") or "auto"
        if precision not in PRECISIONS:
            raise EncoderLoadError(f'{SETTING}["PRECISION"] = {precision!r}; expected one of {", ".join(PRECISIONS)}.')
        return cls(
            model=model.strip(),
            pretrained=pretrained or None,
            device=str(spec.get("DEVICE") or "auto"),
            batch_size=batch_size,
            precision=precision,
            backend=str(spec.get("BACKEND") or DEFAULT_BACKEND),
        )

    def as_setting(self) -> dict[str, Any]:
        """Back to the settings form (what a ModelVersion stores as its config)."""
        setting = {
            "MODEL": self.model,
            "PRETRAINED": self.pretrained,
            "DEVICE": self.device,
            "BATCH_SIZE": self.batch_size,
            "PRECISION": self.precision,
        }
        if self.backend != DEFAULT_BACKEND:
            setting["BACKEND"] = self.backend
        return setting
