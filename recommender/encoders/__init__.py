"""Encoders: product images and texts to vectors of one space.

Usage::

    from recommender.encoders import get_encoder

    encoder = get_encoder(app_settings.ENCODER)        # loaded once per process and spec
    vectors = encoder.encode_texts(["black summer dress"])

``build_encoder(spec)`` always builds a new encoder; ``get_encoder(spec)`` caches it by the
frozen spec; ``clear_encoder_cache()`` forgets them (tests, model switches). torch and open_clip
are imported only when an encoder is built, so the rest of the app imports without them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

from .base import Encoder, EncoderLoadError
from .spec import EncoderSpec

if TYPE_CHECKING:
    from .open_clip_encoder import OpenClipEncoder

__all__ = [
    "Encoder",
    "EncoderLoadError",
    "EncoderSpec",
    "OpenClipEncoder",
    "build_encoder",
    "clear_encoder_cache",
    "get_encoder",
]

_cache: dict[EncoderSpec, Encoder] = {}
_lock = threading.Lock()


def build_encoder(spec: Mapping[str, Any] | EncoderSpec) -> Encoder:
    """A new encoder for ``spec`` (keys MODEL, PRETRAINED, DEVICE, BATCH_SIZE, PRECISION[, BACKEND])."""
    frozen = EncoderSpec.from_mapping(spec)
    try:
        backend = import_string(frozen.backend)
    except ImportError as exc:
        raise EncoderLoadError(
            f'RECOMMENDER["ENCODER"]["BACKEND"] = {frozen.backend!r} could not be imported ({exc}). '
            "The open_clip backend needs the 'clip' extra: pip install 'django-recommender[clip]'."
        ) from exc
    if not (isinstance(backend, type) and issubclass(backend, Encoder)):
        raise EncoderLoadError(f'RECOMMENDER["ENCODER"]["BACKEND"] = {frozen.backend!r} is not an Encoder subclass.')
    return backend(
        frozen.model,
        frozen.pretrained,
        device=frozen.device,
        batch_size=frozen.batch_size,
        precision=frozen.precision,
    )


def get_encoder(spec: Mapping[str, Any] | EncoderSpec) -> Encoder:
    """The process-wide encoder for ``spec``, built on first use (models load once per process)."""
    frozen = EncoderSpec.from_mapping(spec)
    encoder = _cache.get(frozen)
    if encoder is not None:
        return encoder
    with _lock:  # two threads asking at once must not load the model twice
        encoder = _cache.get(frozen)
        if encoder is None:
            encoder = _cache[frozen] = build_encoder(frozen)
    return encoder


def clear_encoder_cache() -> None:
    """Drop every cached encoder (their memory is freed once nothing else references them)."""
    with _lock:
        _cache.clear()


def __getattr__(name: str) -> Any:
    # OpenClipEncoder imports torch; resolve it only when asked for.
    if name == "OpenClipEncoder":
        from .open_clip_encoder import OpenClipEncoder

        return OpenClipEncoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
