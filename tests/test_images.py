"""load_image() on real files made with Pillow: every odd case becomes RGB or a short reason."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.core.files import File
from django.core.files.storage import Storage
from django.db.models.fields.files import FieldFile
from PIL import Image

from recommender.images import (
    DEFAULT_MAX_PIXELS,
    MAX_WORKING_SIDE,
    ImageLoadError,
    load_image,
    pad_to_square,
    shrink,
    to_rgb,
)


def _pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return tuple(image.getpixel(xy))


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg_bytes(image: Image.Image, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, **kwargs)
    return buffer.getvalue()


def test_exif_rotated_jpeg_is_turned_upright(tmp_path: Path) -> None:
    # Stored landscape 40x20 with a red left half; EXIF orientation 6 = "rotate 90° clockwise to view".
    stored = Image.new("RGB", (40, 20), "blue")
    stored.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    path.write_bytes(_jpeg_bytes(stored, exif=exif.tobytes()))

    image = load_image(path)

    assert image.mode == "RGB"
    assert image.size == (20, 40)  # portrait after transposing
    top = _pixel(image, (10, 5))
    assert top[0] > 200 and top[2] < 60  # the red half ends up on top


def test_rgba_png_is_composited_on_white(tmp_path: Path) -> None:
    source = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    source.putpixel((5, 5), (255, 0, 0, 255))
    path = tmp_path / "transparent.png"
    source.save(path)

    image = load_image(str(path))

    assert image.mode == "RGB"
    assert _pixel(image, (0, 0)) == (255, 255, 255)  # transparent -> white, not black
    assert _pixel(image, (5, 5)) == (255, 0, 0)


def test_half_transparent_la_blends_with_white() -> None:
    source = Image.new("LA", (4, 4), (0, 128))
    buffer = io.BytesIO()
    source.save(buffer, "PNG")

    image = load_image(buffer.getvalue())

    value = _pixel(image, (1, 1))
    assert 120 <= value[0] <= 135 and value[0] == value[1] == value[2]


def test_palette_with_transparency(tmp_path: Path) -> None:
    source = Image.new("P", (8, 8), 0)
    source.putpalette([0, 0, 0, 0, 255, 0] + [0, 0, 0] * 254)
    source.putpixel((2, 2), 1)
    path = tmp_path / "palette.png"
    source.save(path, transparency=0)

    image = load_image(path)

    assert _pixel(image, (0, 0)) == (255, 255, 255)
    assert _pixel(image, (2, 2)) == (0, 255, 0)


def test_palette_without_transparency_keeps_colours(tmp_path: Path) -> None:
    source = Image.new("RGB", (8, 8), (10, 20, 200)).convert("P", palette=Image.Palette.ADAPTIVE)
    path = tmp_path / "palette.gif"
    source.save(path)

    image = load_image(path)

    assert image.mode == "RGB"
    r, _, b = _pixel(image, (3, 3))
    assert b > 150 and r < 60


def test_greyscale_and_16_bit_greyscale(tmp_path: Path) -> None:
    Image.new("L", (6, 6), 77).save(tmp_path / "grey.png")
    Image.fromarray(np.full((6, 6), 40000, dtype=np.uint16)).save(tmp_path / "grey16.png")

    grey = load_image(tmp_path / "grey.png")
    grey16 = load_image(tmp_path / "grey16.png")

    assert grey.mode == "RGB" and _pixel(grey, (0, 0)) == (77, 77, 77)
    # 40000 / 65535 * 255 = 155.6; a naive convert("RGB") would clip it to 255.
    assert grey16.mode == "RGB" and 150 <= _pixel(grey16, (0, 0))[0] <= 160


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path, "JPEG", quality=95)  # pure red in CMYK

    image = load_image(path)

    assert image.mode == "RGB"
    r, g, b = _pixel(image, (4, 4))
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda path: path.write_bytes(b""), "empty file"),
        (lambda path: path.write_text("this is not a picture\n" * 20), "not an image"),
        (lambda path: path.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64), None),  # JPEG magic, garbage body
    ],
    ids=["zero-byte", "text-named-jpg", "corrupt-jpeg"],
)
def test_unusable_files_raise_with_reason(tmp_path: Path, make, reason: str | None) -> None:
    path = tmp_path / "broken.jpg"
    make(path)

    with pytest.raises(ImageLoadError) as caught:
        load_image(path)

    if reason:
        assert caught.value.reason == reason
    assert str(caught.value) == caught.value.reason
    assert len(caught.value.reason) < 120


def test_truncated_jpeg(tmp_path: Path) -> None:
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = _jpeg_bytes(noisy)
    path = tmp_path / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(ImageLoadError, match="^truncated image$"):
        load_image(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="^file not found: .*nope.jpg$"):
        load_image(tmp_path / "nope.jpg")


def test_decompression_bomb_is_rejected_from_the_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", (8000, 8000), 1).save(path)  # one colour: a few kB on disk, 64 megapixels decoded
    assert path.stat().st_size < 200_000

    with pytest.raises(ImageLoadError) as caught:
        load_image(path)

    assert caught.value.reason == f"image too large: 8000x8000 px > {DEFAULT_MAX_PIXELS}"
    # The same file passes when the caller allows more pixels.
    assert load_image(path, max_pixels=64_000_000).size == (8000, 8000)


def test_custom_pixel_limit() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (100, 100)).save(buffer, "PNG")

    with pytest.raises(ImageLoadError, match=r"image too large: 100x100 px > 9999"):
        load_image(buffer.getvalue(), max_pixels=9999)
    assert load_image(buffer.getvalue(), max_pixels=10_000).size == (100, 100)


def _png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims ``width`` x ``height``: decoding it would fail as truncated."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def test_elongated_images_are_rejected_from_the_header() -> None:
    # 40 MP fits the pixel limit, but padded to a square for the encoder it would be 1.6 GP.
    with pytest.raises(ImageLoadError) as caught:
        load_image(_png_claiming(40_000, 1_000))
    assert caught.value.reason == "image too elongated: 40000x1000 px, aspect ratio 40 > 10"
    with pytest.raises(ImageLoadError, match=r"^image too elongated: 10x101 px, aspect ratio 10.1 > 10$"):
        load_image(_png(10, 101))
    assert load_image(_png(10, 100)).size == (10, 100)  # 10:1 itself is fine
    assert load_image(_png(101, 10), max_aspect_ratio=None).size == (101, 10)
    with pytest.raises(ImageLoadError, match=r"^image too elongated: 30x10 px, aspect ratio 3 > 2.5$"):
        load_image(_png(30, 10), max_aspect_ratio=2.5)


def test_max_side_shrinks_a_large_image_as_it_is_decoded() -> None:
    # A JPEG is decoded at a reduced scale (draft), then cut by an integer factor; EXIF still applies.
    stored = Image.new("RGB", (9000, 3000), "blue")
    stored.paste((255, 0, 0), (0, 0, 3000, 3000))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view: the red left part ends up on top
    image = load_image(_jpeg_bytes(stored, exif=exif.tobytes()), max_side=4096)
    assert image.mode == "RGB" and image.size[0] < image.size[1] and 2048 < image.size[1] <= 4096
    assert _pixel(image, (image.size[0] // 2, 10))[0] > 200
    assert load_image(_png(5000, 500), max_side=1000).size == (1000, 100)
    assert load_image(_png(300, 200), max_side=1000).size == (300, 200)  # small images stay as they are


def test_shrink_keeps_palette_colours() -> None:
    # Averaging palette indexes would invent colours; a palette image is resampled by nearest neighbour.
    palette = Image.new("P", (5000, 50), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    palette.paste(1, (0, 0, 2500, 50))
    small = shrink(palette, 1000)
    assert small.size == (1000, 10) and {c for _, c in small.convert("RGB").getcolors()} == {(255, 0, 0), (0, 0, 255)}


def test_pad_to_square_canvas_is_bounded() -> None:
    # The canvas is long side squared: a 20000x100 strip would need 400 MP without the bound.
    strip = Image.new("RGB", (20_000, 100), (10, 120, 30))
    square = pad_to_square(strip)
    assert square.size == (4000, 4000) and square.size[0] <= MAX_WORKING_SIDE
    assert _pixel(square, (2000, 2000)) == (10, 120, 30) and _pixel(square, (2000, 0)) == (255, 255, 255)
    assert pad_to_square(strip, max_side=500).size == (500, 500)


def test_file_like_and_django_files(tmp_path: Path) -> None:
    path = tmp_path / "media" / "products" / "shirt.png"
    path.parent.mkdir(parents=True)
    Image.new("RGB", (5, 3), (1, 2, 3)).save(path)

    with path.open("rb") as handle:
        assert load_image(handle).size == (5, 3)
        assert not handle.closed  # the caller's file stays the caller's

    with path.open("rb") as handle:
        assert load_image(File(handle)).size == (5, 3)

    storage = _FolderStorage(tmp_path / "media")
    field_file = FieldFile(instance=None, field=_FakeField(storage), name="products/shirt.png")

    assert _pixel(load_image(field_file), (0, 0)) == (1, 2, 3)
    assert len(storage.opened) == 1 and storage.opened[0].closed  # opened through the storage, closed again

    missing = FieldFile(instance=None, field=_FakeField(storage), name="products/gone.png")
    with pytest.raises(ImageLoadError, match="^file not found: products/gone.png$"):
        load_image(missing)
    with pytest.raises(ImageLoadError, match="^no file$"):
        load_image(FieldFile(instance=None, field=_FakeField(storage), name=""))


def test_unsupported_source_type_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        load_image(12345)


def test_pad_to_square_centres_on_white() -> None:
    tall = Image.new("RGB", (20, 40), (0, 0, 0))

    square = pad_to_square(tall)

    assert square.size == (40, 40)
    assert _pixel(square, (0, 20)) == (255, 255, 255)
    assert _pixel(square, (39, 20)) == (255, 255, 255)
    assert _pixel(square, (20, 20)) == (0, 0, 0)
    assert pad_to_square(square) is square
    assert _pixel(pad_to_square(Image.new("RGB", (4, 2)), fill=(9, 8, 7)), (0, 0)) == (9, 8, 7)


def test_to_rgb_leaves_rgb_alone() -> None:
    image = Image.new("RGB", (2, 2))
    assert to_rgb(image) is image


class _FolderStorage(Storage):
    """A minimal storage (no settings needed) that records the files it opens."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.opened: list[File] = []

    def _open(self, name: str, mode: str = "rb") -> File:
        handle = File((self.root / name).open(mode), name=name)
        self.opened.append(handle)
        return handle

    def exists(self, name: str) -> bool:
        return (self.root / name).exists()


class _FakeField:
    """The two attributes FieldFile needs from its model field."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.name = "image"
