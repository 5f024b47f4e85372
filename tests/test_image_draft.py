"""Draft decoding (``IMAGE_DRAFT_DECODE``): a JPEG decoded at a fraction of its size, never below
what the encoder needs; other formats and small images are decoded as before."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from recommender.images import load_image


def _photo(size: tuple[int, int], fmt: str) -> bytes:
    """A garment-like shape with a gradient background, saved as ``fmt``."""
    width, height = size
    gradient = np.linspace(180, 250, width, dtype=np.uint8)
    pixels = np.repeat(np.repeat(gradient[None, :, None], height, axis=0), 3, axis=2)
    image = Image.fromarray(pixels)
    ImageDraw.Draw(image).ellipse([width // 4, height // 6, width * 3 // 4, height * 5 // 6], fill=(150, 20, 40))
    buffer = io.BytesIO()
    image.save(buffer, fmt, quality=92) if fmt == "JPEG" else image.save(buffer, fmt)
    return buffer.getvalue()


def test_a_jpeg_is_decoded_small_but_never_below_the_draft_side():
    blob = _photo((1200, 1800), "JPEG")
    full = load_image(blob)
    small = load_image(blob, draft_side=256)
    assert full.size == (1200, 1800)
    assert 256 <= max(small.size) < 512 and small.mode == "RGB"  # 1/4 scale: 300x450
    # Same picture: at the encoder's size the two agree to a few grey levels.
    a = np.asarray(full.resize((64, 96), Image.Resampling.BICUBIC), dtype=np.float32)
    b = np.asarray(small.resize((64, 96), Image.Resampling.BICUBIC), dtype=np.float32)
    assert np.abs(a - b).mean() < 3


def test_small_jpegs_and_other_formats_are_decoded_whole():
    assert load_image(_photo((300, 200), "JPEG"), draft_side=256).size == (300, 200)
    assert load_image(_photo((1200, 1800), "PNG"), draft_side=256).size == (1200, 1800)


def test_max_side_still_caps_a_draft_decoded_image():
    image = load_image(_photo((2400, 1200), "JPEG"), draft_side=256, max_side=200)
    assert max(image.size) <= 200
