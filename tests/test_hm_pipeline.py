"""Issue #5's real-data path on a slice of H&M: train the catalog CLIP, reindex through a real
Celery worker, and a text query finds black dresses. Skips where ../shared/data is absent."""

from __future__ import annotations

import csv
import random

import pytest

from recommender.indexing import reindex
from recommender.models import ProductVector
from recommender.storage import nearest
from recommender.training.encoder import train_encoder
from recommender.versions import encoder_for, serving_version, start_build
from shopdemo.catalog.hm_import import load_articles
from shopdemo.catalog.models import Product
from tests.worker import filesystem_broker, running_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.hm]

SLICE = 300
HM_SETTINGS = {
    "PRODUCT_MODEL": "catalog.Product",
    "FIELDS": {
        "title": "name",
        "text": ["description"],
        "image": "image",
        "category": "category",
        "price": "price",
        "in_stock": "stock",
    },
    "SELLABLE_FILTER": {},
    "TEXT_TEMPLATE": "{colour} {category}. {title}. {description}",
}


def _slice_ids(hm_data) -> list[str]:
    with open(hm_data / "articles.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["article_id"] for r in random.Random(0).sample(rows, SLICE)]


def test_train_reindex_through_a_worker_and_search(hm_data, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.RECOMMENDER = {
        **HM_SETTINGS,
        "MODEL_DIR": str(tmp_path / "models"),
        "ENCODER": {"DEVICE": "cpu", "BATCH_SIZE": 64},
        "EMBED_BATCH_SIZE": 50,
    }
    assert load_articles(hm_data, article_ids=_slice_ids(hm_data)) == SLICE

    version = train_encoder(epochs=1, batch_size=64, image_size=64, progress=False)
    assert version.dimensions == 384 and "t2i_r10" in version.metrics["final"]
    start_build(version)  # nothing serves yet: it becomes active at once
    assert serving_version() == version

    broker = filesystem_broker(tmp_path)
    with running_worker(broker, tmp_path / "worker.log") as worker:
        broker.app.send_task("recommender.reindex", args=[version.pk], queue="celery")
        done = wait_until(lambda: ProductVector.objects.filter(version=version, status="ok").count() == SLICE, 240)
        assert done, f"worker did not embed the slice:\n{worker.log()[-3000:]}"
    assert ProductVector.objects.filter(version=version, image_embedding__isnull=True).count() == 0

    query = encoder_for(version).encode_texts(["black summer dress"])[0]
    top = [k for k, _ in nearest(query, k=10, column="text_embedding")]
    products = {p.pk: p for p in Product.objects.filter(pk__in=top)}
    black_dresses = [k for k in top if products[k].category == "Dress" and products[k].colour == "Black"]
    assert len(black_dresses) >= 7, [(products[k].category, products[k].colour) for k in top]
    # A rerun finds nothing to do: same content, same version.
    assert reindex(version).skipped == SLICE
