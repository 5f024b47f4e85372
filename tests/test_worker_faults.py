"""A worker killed (SIGKILL) in the middle of an embedding batch loses nothing and duplicates
nothing: the task is acked late, redelivered by Redis, and the upserts are idempotent."""

from __future__ import annotations

import pytest

from recommender.models import ProductVector
from recommender.versions import activate, register_encoder_version
from tests.factories import product_with_image
from tests.worker import Broker, redis_broker, running_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PRODUCTS = 30


def test_sigkill_mid_batch_then_restart_embeds_every_product_once(tiny_encoder, tmp_path):
    redis = redis_broker()
    if redis is None:
        pytest.skip("REDIS_URL is not set; .ci/run starts redis-server and sets it.")
    # Unacked messages come back after 3 s; the restarted worker sweeps for them every second.
    broker = Broker(redis.url, {"visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1})
    broker.app.connection_for_write().default_channel.client.flushdb()
    products = [product_with_image(f"p{i}", f"Product number {i}", (i * 8, 100, 200 - i * 5)) for i in range(PRODUCTS)]
    keys = [str(p.pk) for p in products]
    version = activate(register_encoder_version(tiny_encoder))

    with running_worker(broker, tmp_path / "first.log") as first:
        broker.app.send_task("recommender.embed_products", args=[keys, [version.pk]], queue="embeddings")
        assert wait_until(lambda: "Task recommender.embed_products" in first.log(), timeout=30), first.log()
        first.kill()  # while it loads the model / encodes: the message is still unacked
    assert "succeeded" not in first.log()

    with running_worker(broker, tmp_path / "second.log") as second:
        done = wait_until(lambda: ProductVector.objects.filter(version=version, status="ok").count() == PRODUCTS, 120)
        assert done, second.log()[-3000:]
        assert wait_until(lambda: "succeeded" in second.log(), timeout=30)

    rows = ProductVector.objects.filter(version=version)
    assert rows.count() == PRODUCTS
    assert sorted(rows.values_list("product_key", flat=True)) == sorted(keys)
    assert not rows.filter(embedding__isnull=True).exists()
