"""Search queries encoded without torch: the ONNX export of the text tower, its torch-free
tokenizer, the fallback to torch, preloading, and a web process that never imports torch.

Real parts throughout: the packaged all-MiniLM-L6-v2 tower (the catalog CLIP's), open_clip,
onnxruntime, Postgres + pgvector, real image files.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from django.core.management import call_command

from recommender.checks import check_query_encoder
from recommender.encoders.onnx_export import UnsupportedTextTower, export_text_encoder
from recommender.encoders.onnx_text import MANIFEST_NAME, ONNX_NAME, OnnxTextEncoder
from recommender.encoders.open_clip_encoder import OpenClipEncoder
from recommender.indexing import reindex
from recommender.models import ModelVersion, ProductVector
from recommender.query_encoders import (
    clear_query_encoders,
    export_query_encoder,
    preload_query_encoder,
    query_encoder_dir,
    query_encoder_for,
)
from recommender.search.dense import query_vector
from recommender.storage import nearest
from recommender.versions import activate, encoder_for, register_encoder_version
from tests.factories import product_with_image

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = Path(__file__).resolve().parent / "model_configs"
# Shopper queries, and the texts that stress a tokenizer: entities, accents, odd spacing, overlong.
TEXTS = [
    "black summer dress",
    "",
    "T-shirt",
    "Ünïcödé kjole &amp; <b>bomull</b> – størrelse M",
    "  spaced\tout\n   text ",
    "cafÃ© latte jumper",  # mojibake that ftfy repairs on both sides
    "denim " * 400,
]
MIN_COSINE = 0.999


@pytest.fixture(scope="module", autouse=True)
def _configs_and_clean_cache():
    open_clip.add_model_config(CONFIGS)
    clear_query_encoders()
    yield
    clear_query_encoders()


@pytest.fixture(scope="module")
def exported_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny catalog CLIP (real MiniLM tower) with its ONNX query encoder exported.

    A copy, so other test modules sharing ``tiny_model_dir`` keep the torch query path.
    """
    folder = tmp_path_factory.mktemp("onnx") / "tiny-catalog"
    shutil.copytree(tiny_model_dir, folder)
    encoder = OpenClipEncoder(f"local-dir:{folder}", device="cpu")
    export_text_encoder(encoder, folder / "query-encoder")
    return folder


@pytest.fixture
def exported_encoder(exported_model_dir: Path, settings) -> dict:
    spec = {"MODEL": f"local-dir:{exported_model_dir}", "PRETRAINED": None, "DEVICE": "cpu", "BATCH_SIZE": 16}
    settings.RECOMMENDER = {**settings.RECOMMENDER, "ENCODER": spec}
    clear_query_encoders()
    return spec


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


# -- the export itself, no database ------------------------------------------------------------


def test_onnx_vectors_equal_torch_on_the_real_minilm_tower(exported_model_dir):
    torch_encoder = OpenClipEncoder(f"local-dir:{exported_model_dir}", device="cpu")
    onnx_encoder = OnnxTextEncoder(exported_model_dir / "query-encoder")
    assert onnx_encoder.version == torch_encoder.version and onnx_encoder.dimensions == 384
    got, want = onnx_encoder.encode_texts(TEXTS), torch_encoder.encode_texts(TEXTS)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 384)
    assert _cosines(got, want).min() >= MIN_COSINE
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_torch_free_tokenizer_gives_open_clips_token_ids(exported_model_dir):
    torch_encoder = OpenClipEncoder(f"local-dir:{exported_model_dir}", device="cpu")
    onnx_encoder = OnnxTextEncoder(exported_model_dir / "query-encoder")
    ours, theirs = onnx_encoder.tokenizer(TEXTS), torch_encoder.tokenizer(TEXTS).numpy()
    assert ours.shape[1] == 256  # the overlong text is truncated to the context, like open_clip's
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine[mine != 0].tolist() == reference[reference != 0].tolist()


def test_a_tower_with_a_projection_exports_too(tmp_path):
    """The tiny test model: MiniLM with a trained linear projection to 32-d (encode_text, all of it)."""
    config = json.loads((CONFIGS / "tiny-catalog-clip.json").read_text())
    config["embed_dim"] = 32
    config["text_cfg"]["hf_proj_type"] = "linear"
    (tmp_path / "tiny-projected-clip.json").write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path)
    torch.manual_seed(1)
    encoder = OpenClipEncoder("tiny-projected-clip", device="cpu")
    export_text_encoder(encoder, tmp_path / "query-encoder")
    got = OnnxTextEncoder(tmp_path / "query-encoder").encode_texts(TEXTS)
    assert got.shape == (len(TEXTS), 32)
    assert _cosines(got, encoder.encode_texts(TEXTS)).min() >= MIN_COSINE


def test_standard_clip_text_towers_are_not_exported(tmp_path):
    torch.manual_seed(0)
    encoder = OpenClipEncoder("tiny-vit-clip", device="cpu")
    with pytest.raises(UnsupportedTextTower):
        export_text_encoder(encoder, tmp_path / "query-encoder")
    assert not (tmp_path / "query-encoder" / MANIFEST_NAME).exists()


# -- serving: same version, same vectors, no torch -----------------------------------------------


def _shop() -> dict[str, str]:
    black, red = (15, 15, 15), (200, 20, 30)
    products = [
        product_with_image("Strappy dress", "Short black summer dress in airy jersey", black, category="Dress"),
        product_with_image("Midi dress", "Black sleeveless dress for warm days", black, category="Dress"),
        product_with_image("Wool coat", "Warm red winter coat with buttons", red, category="Coat"),
        product_with_image("Knit jumper", "Chunky red knitted sweater", red, category="Knitwear"),
    ]
    return {p.name: str(p.pk) for p in products}


@pytest.mark.django_db
def test_search_uses_the_onnx_encoder_on_the_same_version_without_reindexing(exported_encoder):
    shop = _shop()
    reindex()  # the worker: torch encodes the products
    version = ModelVersion.objects.active(ModelVersion.Kind.ENCODER)
    stored = {row.product_key: np.asarray(row.text_embedding) for row in ProductVector.objects.filter(version=version)}

    encoder = query_encoder_for(version)
    assert isinstance(encoder, OnnxTextEncoder)
    assert encoder.version == version.config["encoder_version"]
    assert query_encoder_dir(version) == Path(exported_encoder["MODEL"][len("local-dir:") :]) / "query-encoder"
    for query in ("black summer dress", "red winter coat", "knitted sweater"):
        fast = query_vector(version, query)
        slow = encoder_for(version).encode_texts([query])[0]
        assert float(fast @ slow) >= MIN_COSINE
        fast_top = [key for key, _ in nearest(fast, version=version, k=3, column="text_embedding")]
        slow_top = [key for key, _ in nearest(slow, version=version, k=3, column="text_embedding")]
        assert fast_top == slow_top
    assert set(fast_top[:1]) <= set(shop.values())
    after = {row.product_key: np.asarray(row.text_embedding) for row in ProductVector.objects.filter(version=version)}
    assert after.keys() == stored.keys() and all(np.array_equal(after[k], stored[k]) for k in stored)
    assert ModelVersion.objects.filter(kind=ModelVersion.Kind.ENCODER).count() == 1


@pytest.mark.django_db
def test_a_missing_or_corrupt_export_falls_back_to_torch_with_a_warning(exported_encoder, tmp_path, caplog, settings):
    folder = tmp_path / "tiny-catalog"  # the folder name is part of the version: same weights, same name
    shutil.copytree(Path(exported_encoder["MODEL"][len("local-dir:") :]), folder)
    settings.RECOMMENDER = {**settings.RECOMMENDER, "ENCODER": {**exported_encoder, "MODEL": f"local-dir:{folder}"}}
    version = activate(register_encoder_version(settings.RECOMMENDER["ENCODER"]))
    torch_vector = encoder_for(version).encode_texts(["black dress"])[0]

    (folder / "query-encoder" / ONNX_NAME).write_bytes(b"not an onnx graph")
    clear_query_encoders()
    with caplog.at_level(logging.WARNING, logger="recommender.query_encoders"):
        encoder = query_encoder_for(version)
    assert encoder is encoder_for(version)  # torch, and search still gets its vector
    assert "encoded with torch" in caplog.text and "cannot be loaded" in caplog.text
    np.testing.assert_array_equal(encoder.encode_texts(["black dress"])[0], torch_vector)

    shutil.rmtree(folder / "query-encoder")
    clear_query_encoders()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="recommender.query_encoders"):
        assert query_encoder_for(version) is encoder_for(version)
    assert "recommender_export_query_encoder" in caplog.text

    call_command("recommender_export_query_encoder")  # the repair the warning names
    clear_query_encoders()
    assert isinstance(query_encoder_for(version), OnnxTextEncoder)


@pytest.mark.django_db
def test_an_export_of_other_weights_is_not_used(exported_encoder, caplog):
    version = activate(register_encoder_version(exported_encoder))
    version.config = {**version.config, "encoder_version": "local-dir:retrained@0123456789ab"}
    clear_query_encoders()
    with caplog.at_level(logging.WARNING, logger="recommender.query_encoders"):
        assert query_encoder_for(version) is encoder_for(version)
    assert "was exported from" in caplog.text


@pytest.mark.django_db
def test_torch_setting_and_standard_clip_keep_the_torch_encoder(exported_encoder, settings, tmp_path):
    version = activate(register_encoder_version(exported_encoder))
    settings.RECOMMENDER = {**settings.RECOMMENDER, "QUERY_ENCODER": "torch"}
    assert query_encoder_for(version) is encoder_for(version)

    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "QUERY_ENCODER": "onnx",
        "MODEL_DIR": str(tmp_path),
        "ENCODER": {"MODEL": "tiny-vit-clip", "PRETRAINED": None, "DEVICE": "cpu"},
    }
    vit = activate(register_encoder_version(settings.RECOMMENDER["ENCODER"]))
    assert export_query_encoder(vit) is None
    assert query_encoder_for(vit) is encoder_for(vit)
    assert query_vector(vit, "black dress").shape == (32,)


@pytest.mark.django_db
def test_preload_loads_the_encoder_the_first_search_uses(exported_encoder, settings):
    version = activate(register_encoder_version(exported_encoder))
    clear_query_encoders()
    preloaded = preload_query_encoder()
    assert isinstance(preloaded, OnnxTextEncoder)
    assert query_encoder_for(version) is preloaded  # the first shopper's search loads nothing

    settings.RECOMMENDER = {**settings.RECOMMENDER, "PRELOAD_QUERY_ENCODER": False}
    clear_query_encoders()
    assert preload_query_encoder() is None


def test_a_session_loaded_before_fork_serves_the_forked_worker(exported_model_dir):
    """gunicorn --preload: the master loads the model, each forked worker encodes with it."""
    encoder = OnnxTextEncoder(exported_model_dir / "query-encoder")
    expected = encoder.encode_texts(["black dress"])[0]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        try:
            os.close(read)
            os.write(write, encoder.encode_texts(["black dress"])[0].tobytes())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        got = np.frombuffer(pipe.read(), dtype=np.float32)
    os.waitpid(pid, 0)
    np.testing.assert_array_equal(got, expected)


def test_a_web_process_encodes_queries_without_importing_torch(exported_model_dir):
    """Django set up, the search module's query_vector called: torch and open_clip never load."""
    code = f"""
import json, sys, django
django.setup()
from recommender.models import ModelVersion
from recommender.search.dense import query_vector
from recommender.query_encoders import query_encoder_for
version = ModelVersion(pk=1, kind="encoder", config={{"MODEL": "local-dir:{exported_model_dir}",
    "encoder_version": {json.dumps(OnnxTextEncoder(exported_model_dir / "query-encoder").version)}}})
vector = query_vector(version, "black summer dress")
print(json.dumps({{"torch": "torch" in sys.modules, "open_clip": "open_clip" in sys.modules,
    "encoder": type(query_encoder_for(version)).__name__, "vector": vector.tolist()}}))
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["torch"] is False and result["open_clip"] is False
    assert result["encoder"] == "OnnxTextEncoder"
    reference = OpenClipEncoder(f"local-dir:{exported_model_dir}", device="cpu").encode_texts(["black summer dress"])
    assert float(np.asarray(result["vector"], dtype=np.float32) @ reference[0]) >= MIN_COSINE


def test_query_encoder_settings_are_checked(settings):
    assert check_query_encoder() == []
    settings.RECOMMENDER = {**settings.RECOMMENDER, "QUERY_ENCODER": "tensorrt"}
    assert [error.id for error in check_query_encoder()] == ["recommender.E015"]
    settings.RECOMMENDER = {**settings.RECOMMENDER, "QUERY_ENCODER": "onnx", "QUERY_ENCODER_THREADS": 0}
    assert [error.id for error in check_query_encoder()] == ["recommender.E015"]
