"""Test-suite wiring: the embedded Postgres is stopped when the session ends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("DATABASE_URL"):
        return
    from recommender.embedded import stop_embedded

    stop_embedded(ROOT / "var" / "pgdata-test")


@pytest.fixture
def hm_data() -> Path:
    """The shared H&M data set, or a skip that says where it was looked for."""
    path = SHARED_DATA / "hm_fashion"
    if not (path / "articles.csv").exists():
        pytest.skip(f"H&M data not found at {path} (see shared/README.md); skipping the real-data test.")
    return path


# The project's Celery app binds the shared tasks to Django settings (eager in tests).
import tasks  # noqa: E402,F401

MODEL_CONFIGS = Path(__file__).resolve().parent / "model_configs"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny catalog CLIP (real MiniLM text tower, tiny image tower) in local-dir format."""
    open_clip = pytest.importorskip("open_clip")
    import torch

    from recommender.encoders.configs import CATALOG_CLIP_PREPROCESS
    from recommender.encoders.local_dir import save_local_dir
    from recommender.encoders.open_clip_encoder import OpenClipEncoder

    open_clip.add_model_config(MODEL_CONFIGS)
    torch.manual_seed(0)
    encoder = OpenClipEncoder("tiny-catalog-clip", device="cpu")
    folder = tmp_path_factory.mktemp("models") / "tiny-catalog"
    save_local_dir(encoder.model, folder, model_cfg=encoder.model_cfg, preprocess_cfg=CATALOG_CLIP_PREPROCESS)
    return folder


@pytest.fixture
def tiny_encoder(tiny_model_dir: Path, settings) -> dict:
    """RECOMMENDER["ENCODER"] pointing at the tiny local-dir model."""
    spec = {"MODEL": f"local-dir:{tiny_model_dir}", "PRETRAINED": None, "DEVICE": "cpu", "BATCH_SIZE": 16}
    settings.RECOMMENDER = {**settings.RECOMMENDER, "ENCODER": spec}
    return spec
