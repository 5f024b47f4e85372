"""Bad data through the real embedding pipeline: one batch, every kind of broken row at once.

``embed_products`` runs with the tiny open_clip encoder (real MiniLM text tower), real files in
the media storage and Postgres + pgvector. Each bad row must end up recorded with a short reason
on its ``ProductVector`` row, without costing the good rows of the same batch their vectors: a
bad image still leaves a text-only vector, and a product deleted while its batch is embedded
leaves no row at all. (``tests/test_images.py`` checks ``load_image`` alone; this file checks
what the pipeline makes of it.)
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from functools import cache
from typing import Any, ClassVar

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.test import TestCase
from PIL import Image

from recommender.catalog import FieldMapAdapter
from recommender.indexing import EmbedReport, embed_products
from recommender.models import ProductVector
from recommender.versions import bootstrap_version, encoder_for
from tests.factories import jpeg_bytes
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db

OK, FAILED = ProductVector.Status.OK, ProductVector.Status.FAILED
NO_VECTOR = "no text and no usable image"

# --- files ---------------------------------------------------------------------------------------


def _png(size: tuple[int, int], mode: str = "1") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 1).save(buffer, "PNG")
    return buffer.getvalue()


@cache
def fifty_megapixels() -> bytes:
    """A real 8000x6300 PNG (50.4 MP): one colour, so ~20 kB on disk, ~150 MB once decoded."""
    return _png((8000, 6300))


@cache
def strip(width: int, height: int) -> bytes:
    """A real one-colour RGB PNG of 40 MP (~120 kB on disk): within the pixel limit, elongated."""
    return _png((width, height), "RGB")


def bomb_header(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG whose header claims 900 MP: beyond Pillow's own bomb limit, which it rejects at open."""
    data = bytearray(_png((1, 1)))
    ihdr = bytes(data[12:16]) + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = ihdr[4:12]
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    return bytes(data)


def truncated_jpeg() -> bytes:
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    noisy.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()[: buffer.tell() // 2]


def corrupt_png() -> bytes:
    """A valid PNG signature and header, then a scrambled data chunk."""
    data = bytearray(_png((32, 32), "RGB"))
    for i in range(41, len(data) - 16):
        data[i] ^= 0x5A
    return bytes(data)


# --- texts ---------------------------------------------------------------------------------------

WORDS = ["linen", "cotton", "wool", "silk", "denim", "jersey", "tweed", "velvet", "satin", "knit"]
HUGE_TEXT = " ".join(WORDS[i % len(WORDS)] + str(i) for i in range(12_500))[:100_000]
MIXED_SCRIPT = "Robe légère Платье летнее 夏のワンピース 连衣裙 فستان صيفي 👗✨ size M"


# --- the host's adapter -------------------------------------------------------------------------


class HostileAdapter(FieldMapAdapter):
    """The default adapter, plus what a host's own adapter may do to a batch.

    Text read from another system may carry NUL characters (``<NUL>`` in a description stands
    for one: the test database, Postgres, cannot store them); and a product in ``delete_during``
    is deleted by another request while the batch is being embedded: after the batch loaded it,
    before its vectors are stored. The deletion "commits" there and then (its on-commit receiver,
    which removes the product's vectors, runs at once), as it would in the web process.
    """

    delete_during: ClassVar[set[str]] = set()

    def text(self, product: Any) -> str:
        return super().text(product).replace("<NUL>", "\x00")

    def sellable_keys(self, keys):  # called by the batch between loading and encoding
        for key in sorted(self.delete_during & set(keys)):
            with TestCase.captureOnCommitCallbacks(execute=True):
                Product.objects.filter(pk=key).delete()
        return super().sellable_keys(keys)


@pytest.fixture
def pipeline(tiny_encoder, settings, tmp_path):
    """Media in a temporary folder, the hostile adapter, and an active tiny-encoder version."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.RECOMMENDER = {**settings.RECOMMENDER, "CATALOG_ADAPTER": f"{__name__}.HostileAdapter"}
    HostileAdapter.delete_during = set()
    yield bootstrap_version()
    HostileAdapter.delete_during = set()


def make(name: str, description: str = "", image: bytes | None = None, filename: str = "photo.jpg", **fields):
    product = Product(name=name, description=description, category=fields.pop("category", "Shirt"), **fields)
    if image is not None:
        product.image.save(filename, ContentFile(image), save=False)
    product.save()
    return product


def missing_file() -> Product:
    product = make("Missing photo", "Linen shirt with a lost photo", jpeg_bytes((200, 20, 30)))
    product.image.storage.delete(product.image.name)
    return product


# (what, product maker, expected status, check of the recorded error given (product, error))
Case = tuple[str, Callable[[], Product], str, Callable[[Product, str], bool]]
CASES: list[Case] = [
    # images: each bad one is named on the row, and the text still makes an "ok" vector
    (
        "good",
        lambda: make("Good shirt", "Plain white cotton shirt", jpeg_bytes((235, 235, 225))),
        OK,
        lambda p, e: e == "",
    ),
    (
        "corrupt image",
        lambda: make("Corrupt", "Striped shirt", corrupt_png(), "c.png"),
        OK,
        lambda p, e: e.startswith("image: corrupt image: "),
    ),
    (
        "truncated jpeg",
        lambda: make("Truncated", "Checked shirt", truncated_jpeg()),
        OK,
        lambda p, e: e == "image: truncated image",
    ),
    ("zero-byte file", lambda: make("Zero", "Denim shirt", b""), OK, lambda p, e: e == "image: empty file"),
    (
        "50 megapixels",
        lambda: make("Poster", "Oversized print shirt", fifty_megapixels(), "big.png"),
        OK,
        lambda p, e: e == "image: image too large: 8000x6300 px > 40000000",
    ),
    # 40 MP each, under the pixel limit: padded to a square they were a 1.6 GP / 400 MP canvas
    (
        "40000x1000 strip",
        lambda: make("Banner", "Striped scarf", strip(40_000, 1_000), "banner.png"),
        OK,
        lambda p, e: e == "image: image too elongated: 40000x1000 px, aspect ratio 40 > 10",
    ),
    (
        "20000x2000 strip",
        lambda: make("Runner", "Long table runner", strip(20_000, 2_000), "runner.png"),
        OK,
        lambda p, e: e == "",
    ),
    (
        "bomb header",
        lambda: make("Bomb", "Silk shirt", bomb_header(), "bomb.png"),
        OK,
        lambda p, e: e == "image: image too large: 900000000 px > 40000000",
    ),
    (
        "text named .jpg",
        lambda: make("Text", "Flannel shirt", b"this is not a picture\n" * 20),
        OK,
        lambda p, e: e == "image: not an image",
    ),
    ("missing file", missing_file, OK, lambda p, e: e == f"image: file not found: {p.image.name}"),
    # texts
    ("empty text, good image", lambda: make("", "", jpeg_bytes((20, 30, 90)), category=""), OK, lambda p, e: e == ""),
    (
        "empty text, bad image",
        lambda: make("", "", b"GIF89a not really", category=""),
        FAILED,
        lambda p, e: e == f"image: not an image; {NO_VECTOR}",
    ),
    ("empty text, no image", lambda: make("", "", None, category=""), FAILED, lambda p, e: e == NO_VECTOR),
    ("100 kB text", lambda: make("Long", HUGE_TEXT), OK, lambda p, e: e == ""),
    (
        "mixed scripts",
        lambda: make(MIXED_SCRIPT, MIXED_SCRIPT, jpeg_bytes((200, 20, 30)), category="Платья"),
        OK,
        lambda p, e: e == "",
    ),
    ("NUL in the host's text", lambda: make("Nul", "Cotton<NUL>shirt"), OK, lambda p, e: e == ""),
]
BAD_IMAGES = {
    "corrupt image",
    "truncated jpeg",
    "zero-byte file",
    "50 megapixels",
    "40000x1000 strip",
    "bomb header",
    "text named .jpg",
    "missing file",
    "empty text, bad image",
}


@pytest.mark.slow
def test_one_batch_of_bad_rows(pipeline):
    version = pipeline
    products = {what: maker() for what, maker, *_ in CASES}
    deleted_before = make("Deleted before", "Gone before the batch started")
    deleted_during = make("Deleted during", "Gone while the batch was embedded", jpeg_bytes((15, 15, 15)))
    gone_key, racing_key = str(deleted_before.pk), str(deleted_during.pk)
    deleted_before.delete()
    HostileAdapter.delete_during = {racing_key}
    keys = [str(p.pk) for p in products.values()] + [gone_key, racing_key, "not-a-key", "\x00"]

    report = embed_products(keys)

    rows = {r.product_key: r for r in ProductVector.objects.filter(version=version)}
    assert set(rows) == {str(p.pk) for p in products.values()}  # the deleted products left no row
    assert not ProductVector.objects.filter(product_key__in=[gone_key, racing_key]).exists()
    assert not Product.objects.filter(pk=racing_key).exists()  # the seam really deleted it mid-batch
    for what, _, status, error_ok in CASES:
        product = products[what]
        row = rows[str(product.pk)]
        assert row.status == status, (what, row.status, row.error)
        assert error_ok(product, row.error), (what, row.error)
        assert len(row.error) < 200, what  # short enough for the admin list
        if status == OK:
            assert row.embedding is not None and abs(np.linalg.norm(row.embedding) - 1) < 1e-4, what
        else:
            assert row.embedding is None and row.image_embedding is None, what
        if what in BAD_IMAGES:
            assert row.image_embedding is None, what
    # The product deleted mid-batch was embedded, then its row removed again.
    assert (report.embedded, report.failed, report.removed) == (len(CASES) - 2 + 1, 2, 1)
    assert set(report.image_errors) == {str(products[w].pk) for w in BAD_IMAGES}

    # A bad image leaves a text-only vector: the fused vector is the text vector.
    for what in BAD_IMAGES - {"empty text, bad image"}:
        row = rows[str(products[what].pk)]
        np.testing.assert_allclose(row.embedding, row.text_embedding, atol=1e-6)
    # No text leaves an image-only vector, whatever TEXT_TEMPLATE's punctuation adds (". .").
    imageless = rows[str(products["empty text, good image"].pk)]
    assert imageless.text_embedding is None and imageless.image_embedding is not None
    np.testing.assert_allclose(imageless.embedding, imageless.image_embedding, atol=1e-6)
    for what in ("good", "20000x2000 strip"):  # 10:1 is still a photo: shrunk, then embedded
        row = rows[str(products[what].pk)]
        assert row.image_embedding is not None and row.text_embedding is not None, what

    # Texts are stored as the encoder saw them: all 100 kB, every script, NUL removed; and the
    # bad rows around them did not change their vectors.
    encoder = encoder_for(version)
    for what in ("good", "100 kB text", "mixed scripts", "NUL in the host's text"):
        row = rows[str(products[what].pk)]
        alone = encoder.encode_texts([row.document])[0]
        np.testing.assert_allclose(row.text_embedding, alone, atol=1e-4, err_msg=what)
    assert len(rows[str(products["100 kB text"].pk)].document) > 100_000
    mixed = rows[str(products["mixed scripts"].pk)]
    assert MIXED_SCRIPT in mixed.document and mixed.title == MIXED_SCRIPT and mixed.category == "Платья"
    assert rows[str(products["NUL in the host's text"].pk)].document.endswith("Cotton shirt")


def test_rerunning_the_batch_keeps_the_reasons_and_a_fixed_image_clears_them(pipeline):
    version = pipeline
    broken = make("Zero", "Denim shirt", b"")
    first = embed_products([str(broken.pk)])
    assert (first.embedded, first.failed) == (1, 0)
    assert embed_products([str(broken.pk)]).skipped == 1  # same content: not redone
    assert ProductVector.objects.get(version=version).error == "image: empty file"

    broken.image.save("fixed.jpg", ContentFile(jpeg_bytes((15, 15, 15))))
    embed_products([str(broken.pk)])

    row = ProductVector.objects.get(version=version)
    assert row.status == OK and row.error == "" and row.image_embedding is not None


@pytest.mark.parametrize(("limit", "error"), [(None, ""), (1_000, "image: image too large: 48x64 px > 1000")])
def test_the_pixel_limit_is_the_setting(pipeline, settings, limit: int | None, error: str):
    if limit is not None:
        settings.RECOMMENDER = {**settings.RECOMMENDER, "MAX_IMAGE_PIXELS": limit}
    product = make("Small photo", "Small shirt", jpeg_bytes((200, 20, 30)))  # 48x64 = 3,072 px

    report: EmbedReport = embed_products([str(product.pk)])

    row = ProductVector.objects.get(version=pipeline)
    assert row.status == OK and row.error == error
    assert (row.image_embedding is None) == bool(error) and report.image_errors == (
        {row.product_key: error} if error else {}
    )
