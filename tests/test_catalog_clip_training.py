"""train_catalog_clip() end to end on generated coloured shapes, with a tiny image tower and the real MiniLM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from recommender.encoders.open_clip_encoder import OpenClipEncoder
from recommender.encoders.packaged import MINILM_MARKER, find_machine_paths
from recommender.training.catalog_clip import TrainingResult, train_catalog_clip
from recommender.training.data import split_indices
from recommender.training.metrics import retrieval_recalls

TINY_CATALOG = Path(__file__).resolve().parent / "model_configs" / "tiny-catalog-clip.json"
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 60),
    "blue": (40, 60, 220),
    "yellow": (235, 215, 40),
    "black": (20, 20, 20),
    "purple": (140, 50, 170),
}
SHAPES = ("circle", "square", "triangle")
FAST = {"model_config": TINY_CATALOG, "image_size": 32, "batch_size": 16, "progress": False}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> object:
    """Tiny models gain nothing from more threads, and on a busy 2-core box OpenMP's spinning
    threads make them many times slower; restore the caller's setting afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _shape_image(colour: tuple[int, int, int], shape: str, rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (48, 64), "white")  # portrait, like product photos
    draw = ImageDraw.Draw(image)
    size = int(rng.integers(18, 30))
    x, y = int(rng.integers(2, 48 - size)), int(rng.integers(2, 64 - size))
    if shape == "circle":
        draw.ellipse((x, y, x + size, y + size), fill=colour)
    elif shape == "square":
        draw.rectangle((x, y, x + size, y + size), fill=colour)
    else:
        draw.polygon([(x, y + size), (x + size, y + size), (x + size // 2, y)], fill=colour)
    return image


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, object, str]]:
    """54 shapes (6 colours x 3 shapes x 3 positions) as files, bytes and PIL-free sources, plus 2 broken."""
    root = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(0)
    result: list[tuple[str, object, str]] = []
    for colour_name, colour in COLOURS.items():
        for shape in SHAPES:
            for variant in range(3):
                path = root / f"{colour_name}-{shape}-{variant}.png"
                _shape_image(colour, shape, rng).save(path)
                source: object = path if variant != 1 else path.read_bytes()
                result.append((path.stem, source, f"{colour_name} {shape}"))
    noise = Image.fromarray(rng.integers(0, 255, (64, 48, 3), dtype=np.uint8))
    noise.save(root / "whole.jpg", quality=90)
    whole = (root / "whole.jpg").read_bytes()
    (root / "half.jpg").write_bytes(whole[: len(whole) // 2])
    result.append(("broken", root / "half.jpg", "broken image"))
    result.append(("missing", root / "missing.png", "missing image"))
    return result


@pytest.fixture(scope="module")
def trained(pairs: list, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    output = tmp_path_factory.mktemp("run") / "catalog-clip-toy"
    return train_catalog_clip(pairs, output, epochs=6, lr=3e-3, seed=0, val_fraction=0.25, **FAST)


def test_recall_beats_chance_and_the_untrained_model(trained: TrainingResult) -> None:
    before, after = trained.history[0], trained.history[-1]
    chance_r1 = 1 / trained.n_val

    assert [row["epoch"] for row in trained.history] == list(range(7))
    assert after["i2t_r1"] >= 3 * chance_r1 and after["t2i_r1"] >= 3 * chance_r1
    assert after["i2t_r1"] + after["t2i_r1"] > before["i2t_r1"] + before["t2i_r1"] + 0.5
    assert trained.history[-1]["train_loss"] < trained.history[1]["train_loss"]
    assert trained.final_metrics == {k: v for k, v in after.items() if k[:4] in ("i2t_", "t2i_")}


def test_broken_images_are_skipped_with_reasons(trained: TrainingResult) -> None:
    assert trained.skipped == {"broken": "truncated image", "missing": trained.skipped["missing"]}
    assert trained.skipped["missing"].startswith("file not found: ")
    assert trained.n_train + trained.n_val == 54
    assert trained.n_val == round(54 * 0.25)


def test_artifacts_are_portable(trained: TrainingResult) -> None:
    folder = trained.model_dir
    config = json.loads((folder / "open_clip_config.json").read_text())
    metrics = json.loads(trained.metrics_path.read_text())

    assert config["model_cfg"]["text_cfg"]["hf_model_name"] == MINILM_MARKER
    assert config["model_cfg"]["text_cfg"]["hf_tokenizer_name"] == MINILM_MARKER
    assert config["model_cfg"]["text_cfg"]["hf_proj_type"] is None and config["model_cfg"]["embed_dim"] == 384
    assert config["preprocess_cfg"]["resize_mode"] == "longest" and config["preprocess_cfg"]["fill_color"] == 255
    for saved in (config, metrics):
        assert find_machine_paths(saved) == []
        assert str(folder.parent) not in json.dumps(saved)
    assert (folder / "open_clip_model.safetensors").stat().st_size > 1000
    assert trained.plot_path is not None and trained.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert metrics["history"] == json.loads(json.dumps(trained.history))
    assert metrics["skipped_count"] == 2 and metrics["version"] == trained.encoder.version


def test_local_dir_round_trip_gives_identical_vectors(trained: TrainingResult, pairs: list) -> None:
    loaded = OpenClipEncoder(trained.model_id, device="cpu")
    images = [Image.open(source) if isinstance(source, Path) else None for _, source, _ in pairs[:12]]
    images = [image for image in images if image is not None]
    texts = ["red circle", "purple triangle", "", "something else entirely"]

    assert loaded.version == trained.encoder.version
    np.testing.assert_allclose(loaded.encode_images(images), trained.encoder.encode_images(images), atol=1e-6)
    np.testing.assert_allclose(loaded.encode_texts(texts), trained.encoder.encode_texts(texts), atol=1e-6)
    # Training moved the image tower away from its random start.
    assert not np.allclose(loaded.encode_images(images[:2]), 0)


def test_same_seed_same_model_other_seed_other_model(pairs: list, tmp_path: Path) -> None:
    def run(seed: int, name: str) -> TrainingResult:
        return train_catalog_clip(pairs[:30], tmp_path / name, epochs=2, seed=seed, **FAST)

    first, again, other = run(1, "a"), run(1, "b"), run(2, "c")
    probe = [Image.new("RGB", (40, 60), colour) for colour in COLOURS.values()]

    assert first.val_keys == again.val_keys and first.val_keys != other.val_keys
    assert [row.get("train_loss") for row in first.history] == [row.get("train_loss") for row in again.history]
    np.testing.assert_array_equal(first.encoder.encode_images(probe), again.encoder.encode_images(probe))
    assert not np.allclose(first.encoder.encode_images(probe), other.encoder.encode_images(probe), atol=1e-3)


def test_on_epoch_receives_every_validation(pairs: list, tmp_path: Path) -> None:
    seen: list[dict] = []
    train_catalog_clip(pairs[:20], tmp_path / "m", epochs=1, seed=0, on_epoch=seen.append, **FAST)
    assert [row["epoch"] for row in seen] == [0, 1]
    assert "t2i_r10" in seen[1] and seen[1]["train_loss"] > 0


def test_split_is_seeded_and_sized() -> None:
    train, held_out = split_indices(6000, val_fraction=0.1, seed=0)
    again = split_indices(6000, val_fraction=0.1, seed=0)[1]
    other = split_indices(6000, val_fraction=0.1, seed=1)[1]

    assert len(held_out) == 600 and len(train) == 5400
    assert not set(train) & set(held_out)
    assert np.array_equal(held_out, again) and not np.array_equal(held_out, other)


def test_retrieval_recalls_counts_ranks() -> None:
    vectors = np.eye(4, dtype=np.float32)
    shuffled = vectors[[1, 0, 2, 3]]  # pairs 0 and 1 swapped

    perfect = retrieval_recalls(vectors, vectors, ks=(1, 2))
    half = retrieval_recalls(vectors, shuffled, ks=(1, 2))

    assert perfect == {"i2t_r1": 1.0, "i2t_r2": 1.0, "t2i_r1": 1.0, "t2i_r2": 1.0}
    assert half["i2t_r1"] == 0.5 and half["t2i_r1"] == 0.5


def test_nothing_loadable_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2 pairs"):
        train_catalog_clip([("a", tmp_path / "none.png", "x")], tmp_path / "m", epochs=1, **FAST)


def test_heads_only_fine_tuning_keeps_the_trunk(pairs: list, tmp_path: Path) -> None:
    base = train_catalog_clip(pairs[:20], tmp_path / "base", epochs=1, seed=0, **FAST)
    trunk_before = {k: v.clone() for k, v in base.encoder.model.visual.trunk.state_dict().items()}
    head_before = base.encoder.model.visual.head.proj.weight.detach().clone()

    tuned = train_catalog_clip(
        pairs[20:40],
        tmp_path / "tuned",
        base_model={"MODEL": base.model_id},
        train_only_heads=True,
        epochs=1,
        batch_size=8,
        progress=False,
        seed=0,
    )

    trunk_after = tuned.encoder.model.visual.trunk.state_dict()
    assert all(torch.equal(trunk_before[k], trunk_after[k]) for k in trunk_before)  # incl. batch-norm stats
    assert not torch.equal(head_before, tuned.encoder.model.visual.head.proj.weight)
    assert tuned.settings["base_model"] == "local-dir:base"
    assert find_machine_paths(tuned.config) == []
