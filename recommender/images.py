"""Robust image loading: any source in, an upright RGB ``PIL.Image`` out, or a short reason why not.

Usage::

    from recommender.images import ImageLoadError, load_image

    try:
        image = load_image(product.image)          # FieldFile, path, bytes or binary file
    except ImageLoadError as exc:
        mark_failed(product, exc.reason)           # "truncated image", "not an image", ...

    image = load_image(upload, max_side=MAX_WORKING_SIDE)   # huge photos come back shrunk

Shop images come from many hands: phone photos with EXIF rotation, transparent PNGs, CMYK
JPEGs from print workflows, half-uploaded files, and now and then something hostile. Each of
these either becomes a clean RGB image or an :class:`ImageLoadError` with a reason short enough
to show in the admin. Pillow's global settings (``MAX_IMAGE_PIXELS``, ``LOAD_TRUNCATED_IMAGES``)
are never changed: the host may rely on them.

Memory is bounded by what is allocated, not only by what the header says: the pixel count and the
aspect ratio are checked before decoding, a huge image can be shrunk right after decoding (JPEGs
already while decoding) before any full-size copy is made, and :func:`pad_to_square` shrinks
before it pads, since a 20000x2000 strip padded to a square would be a 1.2 GB canvas.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import warnings
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "DEFAULT_MAX_ASPECT_RATIO",
    "DEFAULT_MAX_PIXELS",
    "MAX_WORKING_SIDE",
    "ImageLoadError",
    "ImageSource",
    "check_shape",
    "load_image",
    "pad_to_square",
    "shrink",
    "to_rgb",
]

logger = logging.getLogger(__name__)

# 40 megapixels: far above any product photo (a 50 MP camera frame is the extreme) while the
# decoded RGB bitmap (~120 MB) still fits comfortably in a web or Celery worker.
DEFAULT_MAX_PIXELS = 40_000_000

# Long side / short side. Product photos are 1:1 to 1:3 and banners about 1:4; a 1:40 strip is no
# photo of a product, only a way to make the padded square (long side squared) huge.
DEFAULT_MAX_ASPECT_RATIO = 10.0

# Longest side kept once an image is decoded: 9x the largest CLIP input (448 px), so the encoder's
# own resize sees the same detail, while the padded square canvas stays under 50 MB (4096^2 x 3).
MAX_WORKING_SIDE = 4096

# Modes that Image.reduce() averages correctly; palette and 1-bit images are resampled by nearest
# neighbour instead (averaging palette indexes would invent colours), as Pillow's resize() does.
_REDUCIBLE_MODES = {"L", "LA", "La", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "LAB", "HSV", "I", "F"}

WHITE = (255, 255, 255)

# Modes whose alpha channel must be flattened rather than dropped (dropping it turns
# transparent areas into whatever colour the encoder stored there, often black).
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}

ImageSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | Any


class ImageLoadError(Exception):
    """An image could not be used; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def load_image(
    source: ImageSource,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_aspect_ratio: float | None = DEFAULT_MAX_ASPECT_RATIO,
    max_side: int | None = None,
    draft_side: int | None = None,
) -> Image.Image:
    """Decode ``source`` into an upright RGB image.

    ``source`` may be a filesystem path, raw bytes, a binary file object (read from its current
    position, left open) or a Django ``File``/``FieldFile`` (opened through its storage and
    closed again). Images with more than ``max_pixels`` pixels or a long side more than
    ``max_aspect_ratio`` times the short one (None: any) are rejected from the header, before any
    pixel is decoded. With ``max_side``, an image whose long side is longer comes back shrunk to
    at most ``max_side`` (by an integer factor), before any full-size copy is made. With
    ``draft_side``, a JPEG is decoded at the smallest scale (1/2, 1/4, 1/8) whose long side is
    still at least ``draft_side``: an encoder that looks at 64 px needs no 2000 px bitmap.
    """
    data = _read_bytes(source)
    if not data:
        raise ImageLoadError("empty file")
    try:
        with warnings.catch_warnings():
            # We enforce our own limit below; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            check_shape(*image.size, max_pixels=max_pixels, max_aspect_ratio=max_aspect_ratio)
            if draft_side:
                image.draft(None, _at_least(image.size, draft_side))  # JPEG decodes at 1/2, 1/4 or 1/8
            elif max_side:
                image.draft(None, _scaled(image.size, max_side))
            image.load()
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow refuses more than twice its own limit already at open(), before we see the size;
        # its message is a sentence naming its limit, so keep only the pixel count, in our format.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise ImageLoadError(f"image too large: {found[1] if found else 'over'} px > {max_pixels}") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError("not an image") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = str(exc)
        if "truncated" in message or isinstance(exc, EOFError):
            raise ImageLoadError("truncated image") from exc
        raise ImageLoadError(f"corrupt image: {message or type(exc).__name__}") from exc
    if max_side:
        image = shrink(image, max_side)
    try:
        # In place: without an orientation tag, exif_transpose() would copy the whole bitmap.
        ImageOps.exif_transpose(image, in_place=True)
    except Exception as exc:  # noqa: BLE001 - a broken EXIF block must not lose a good image
        logger.debug("Ignoring unreadable EXIF orientation: %s", exc)
    return to_rgb(image)


def check_shape(width: int, height: int, *, max_pixels: int, max_aspect_ratio: float | None) -> None:
    """Raise :class:`ImageLoadError` for an image too large or too elongated to be worth decoding."""
    if width * height > max_pixels:
        raise ImageLoadError(f"image too large: {width}x{height} px > {max_pixels}")
    ratio = max(width, height) / max(1, min(width, height))
    if max_aspect_ratio is not None and ratio > max_aspect_ratio:
        raise ImageLoadError(f"image too elongated: {width}x{height} px, aspect ratio {ratio:g} > {max_aspect_ratio:g}")


def shrink(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` with its long side cut to at most ``max_side`` by an integer factor (itself when it fits).

    An integer factor keeps it cheap (``Image.reduce`` box-averages, no large kernel) and the
    result still has at least half of ``max_side``, plenty for the encoder's own resize.
    """
    width, height = image.size
    longest = max(width, height)
    if longest <= max_side:
        return image
    factor = -(-longest // max_side)
    if image.mode in _REDUCIBLE_MODES:
        return image.reduce(factor)
    size = (max(1, -(-width // factor)), max(1, -(-height // factor)))
    return image.resize(size, Image.Resampling.NEAREST)


def to_rgb(image: Image.Image, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """Convert any Pillow mode to RGB, compositing transparency on ``background``."""
    if image.mode == "RGB" and "transparency" not in image.info:
        return image
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, background + (255,))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":
        # 16/32-bit greyscale: convert("RGB") would clip everything above 255 to white.
        image = _scale_to_8bit(image)
    return image.convert("RGB")


def pad_to_square(
    image: Image.Image, fill: tuple[int, int, int] = WHITE, *, max_side: int = MAX_WORKING_SIDE
) -> Image.Image:
    """Centre ``image`` (made RGB) on a square canvas of ``fill``; a square RGB input is returned as is.

    Product photos are usually portrait; padding keeps the whole garment where a centre crop
    would cut off the neckline and hem. White matches the studio backgrounds of most shops.
    The canvas is long side squared, so an image longer than ``max_side`` is shrunk first
    (:func:`shrink`): the canvas never exceeds ``max_side`` squared, whatever the upload's shape.
    """
    image = to_rgb(shrink(image, max_side), background=fill)
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def _scaled(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled so that its long side is ``max_side`` (never enlarged); at least 1x1."""
    width, height = size
    scale = min(1.0, max_side / max(1, width, height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _at_least(size: tuple[int, int], side: int) -> tuple[int, int]:
    """``size`` scaled so that its long side is ``side`` (never enlarged), rounded up: the draft
    request Pillow meets with the largest JPEG scale-down that keeps both sides at least this."""
    width, height = size
    scale = min(1.0, side / max(1, width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _scale_to_8bit(image: Image.Image) -> Image.Image:
    """Map a 16-bit, 32-bit integer or float greyscale image onto 0..255."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        values = values / 257.0  # 65535 -> 255
    elif values.size and (values.min() < 0 or values.max() > 255):
        low, high = float(values.min()), float(values.max())
        values = (values - low) * 255.0 / ((high - low) or 1.0)
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def _read_bytes(source: ImageSource) -> bytes:
    """All bytes of ``source``; missing files become ImageLoadError, wrong types TypeError."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        return _read_path(Path(source))
    if _is_django_file(source):
        return _read_django_file(source)
    if hasattr(source, "read"):
        data = source.read()
        if isinstance(data, str):
            raise TypeError("load_image() needs a binary file object, not a text one.")
        return data or b""
    raise TypeError(f"load_image() cannot read a {type(source).__name__}.")


def _read_path(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ImageLoadError(f"file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ImageLoadError(f"not a file: {path}") from exc
    except PermissionError as exc:
        raise ImageLoadError(f"permission denied: {path}") from exc


def _is_django_file(source: object) -> bool:
    try:
        from django.core.files import File
    except ImportError:  # pragma: no cover - Django is a hard dependency of the app
        return False
    return isinstance(source, File)


def _read_django_file(source: Any) -> bytes:
    """Read a ``FieldFile`` through its storage (remote storages included), or a plain ``File``."""
    storage = getattr(source, "storage", None)
    name = getattr(source, "name", None)
    if storage is not None:
        if not name:
            raise ImageLoadError("no file")
        try:
            handle = storage.open(name, "rb")
        except FileNotFoundError as exc:
            raise ImageLoadError(f"file not found: {name}") from exc
        try:
            return handle.read() or b""
        finally:
            handle.close()
    file = getattr(source, "file", None)
    if file is None and name:
        return _read_path(Path(name))
    if file is None:
        raise ImageLoadError("no file")
    if hasattr(file, "seek"):
        file.seek(0)
    return file.read() or b""
