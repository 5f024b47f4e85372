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
import tasks  # noqa: F401

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


# Four product families, one axis each of a hand-made 4-d space , so
# every expected ranking can be worked out on paper.
VECTOR_SHOP_FAMILIES = {"dress": 0, "coat": 1, "shoes": 2, "bag": 3}
VECTOR_SHOP_SPECS = [
    # name, family, wobble, wobble axis, in stock
    ("dress-a", "dress", 0.00, None, True),
    ("dress-b", "dress", 0.05, 1, True),
    ("dress-c", "dress", 0.3, 3, True),
    ("dress-out", "dress", 0.01, 2, False),
    ("coat-a", "coat", 0.0, None, True),
    ("coat-b", "coat", 0.1, 0, True),
    ("shoes-a", "shoes", 0.0, None, True),
    ("shoes-b", "shoes", 0.1, 3, True),
    ("bag-a", "bag", 0.0, None, True),
    ("bag-b", "bag", 0.2, 0, True),
    ("coat-c", "coat", 0.2, 2, True),
    ("shoes-c", "shoes", 0.3, 1, True),
]


@pytest.fixture
def vector_shop(db) -> dict[str, str]:
    """12 test products in 4 families with hand-made 4-d vectors in an active version; name -> key.

    Prices are 10.00, 11.00, ... in the order above; dress-out is out of stock.
    """
    import numpy as np

    from recommender.storage import VectorRow, ensure_indexes, store_vectors
    from tests.factories import encoder_version
    from tests.testapp.models import Product

    version = encoder_version(4)
    keys, rows = {}, []
    for name, family, wobble, other, in_stock in VECTOR_SHOP_SPECS:
        product = Product.objects.create(name=name, category=family, in_stock=in_stock, price=10 + len(keys))
        keys[name] = str(product.pk)
        v = np.full(4, 0.02, dtype=np.float32)
        v[VECTOR_SHOP_FAMILIES[family]] = 1.0
        if other is not None:
            v[other] += wobble
        v /= np.linalg.norm(v)
        rows.append(
            VectorRow(
                key=keys[name],
                embedding=v,
                image_embedding=v,
                text_embedding=v,
                title=name,
                category=family,
                price=product.price,
                in_stock=in_stock,
            )
        )
    store_vectors(version, rows)
    ensure_indexes(version)
    return keys


@pytest.fixture
def fresh_database_url():
    """The URL of an empty database on the test server (a fresh project's own), dropped afterwards."""
    import uuid

    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    name = f"readme_{uuid.uuid4().hex[:8]}"
    conninfo = {
        k: v
        for k, v in {
            "dbname": "postgres",
            "user": db["USER"],
            "password": db["PASSWORD"],
            "host": db["HOST"],
            "port": db["PORT"] or None,
        }.items()
        if v
    }
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    host = db["HOST"]
    url = f"postgresql://{db['USER']}:{db['PASSWORD']}@{'' if host.startswith('/') else host}"
    url += f":{db['PORT']}" if db["PORT"] else ""
    url += f"/{name}" + (f"?host={host}" if host.startswith("/") else "")
    yield url
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def user(db):
    """A logged-in shopper's account."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("shopper", password="pw")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: cached settings or results must not leak across
    tests whose database changes were rolled back."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# A behaviour model small enough to train in seconds (hidden 16, one layer, 12 epochs).
TINY_BEHAVIOUR = {
    "hidden": 16,
    "layers": 1,
    "heads": 1,
    "batch_size": 8,
    "lr": 1e-2,
    "dropout": 0.0,
    "feature_dropout": 0.0,
    "epochs": 12,
    "patience": 12,
    "torch_threads": 1,
    "valid_max_users": 0,
}


@pytest.fixture
def behaviour_settings(settings, tmp_path, request):
    """MODEL_DIR in a temporary folder and a tiny behaviour model (the requesting test module's
    ``SMALL``, else ``TINY_BEHAVIOUR``); the loaded-model cache cleared before and after. Yields MODEL_DIR."""
    from recommender.behaviour import serving

    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "MODEL_DIR": str(tmp_path / "models"),
        "BEHAVIOUR": getattr(request.module, "SMALL", TINY_BEHAVIOUR),
    }
    serving.clear_cache()
    yield tmp_path / "models"
    serving.clear_cache()
