"""Tasks run in a real ``celery -A tasks worker`` process over real brokers."""

from __future__ import annotations

import pytest

from recommender.models import ProductVector
from recommender.storage import VectorRow, store_vectors
from tests.factories import encoder_version
from tests.testapp.models import Product
from tests.worker import Broker, filesystem_broker, redis_broker, running_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _run_sync_through(broker: Broker, tmp_path) -> None:
    products = [Product.objects.create(name=f"p{i}", category="old", in_stock=True) for i in range(3)]
    version = encoder_version(3)  # after the saves: its stand-in encoder cannot embed
    store_vectors(version, [VectorRow(key=str(p.pk), embedding=[1, 0, 0], category="old") for p in products])
    Product.objects.filter(pk=products[0].pk).update(category="Dresses", in_stock=False)  # no signals
    Product.objects.filter(pk=products[1].pk).update(active=False)

    with running_worker(broker, tmp_path / "worker.log") as worker:
        broker.app.send_task("recommender.sync_product_fields", args=[[str(p.pk) for p in products]])
        done = wait_until(lambda: ProductVector.objects.filter(category="Dresses").exists(), timeout=60)
        assert done, f"the worker did not run the task:\n{worker.log()}"
        assert "recommender.sync_product_fields" in worker.log()

    rows = {r.product_key: r for r in ProductVector.objects.all()}
    assert rows[str(products[0].pk)].in_stock is False
    assert rows[str(products[1].pk)].sellable is False
    assert rows[str(products[2].pk)].sellable is True


def test_real_worker_over_filesystem_broker(tmp_path):
    _run_sync_through(filesystem_broker(tmp_path), tmp_path)


def test_real_worker_over_redis(tmp_path):
    broker = redis_broker()
    if broker is None:
        pytest.skip("REDIS_URL is not set; .ci/run starts redis-server and sets it.")
    _run_sync_through(broker, tmp_path)
