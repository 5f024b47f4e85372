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


def _behaviour_version(name: str, folder, encoder, keys: list[str]):
    """A behaviour version over ``encoder``'s products whose saved model is in ``folder / name``."""
    import numpy as np

    from recommender.behaviour.config import DEFAULTS
    from recommender.behaviour.model import BehaviourModel, save_artifact
    from recommender.models import ModelVersion

    model = BehaviourModel(
        np.zeros((len(keys), 3), dtype=np.float32), {**DEFAULTS, "hidden": 8, "layers": 1, "heads": 1}
    )
    save_artifact(model, folder / name, item_keys=keys, extra={})
    return ModelVersion.objects.create(
        kind="behaviour",
        name=name,
        state="ready",
        artifact=str(folder / name),
        dimensions=8,
        config={"encoder_version_id": encoder.pk},
    )


def test_real_worker_activates_a_behaviour_model_or_says_why_not(tmp_path):
    """The admin's behaviour activation runs here: the worker writes the output vectors, then switches."""
    from recommender.models import ModelVersion

    products = [Product.objects.create(name=f"p{i}", category="c", in_stock=True) for i in range(4)]
    encoder = encoder_version(3)
    store_vectors(
        encoder, [VectorRow(key=str(p.pk), embedding=[1, i, 0], category="c") for i, p in enumerate(products)]
    )
    keys = [str(p.pk) for p in products]
    good = _behaviour_version("good", tmp_path, encoder, keys)
    lost = _behaviour_version("lost", tmp_path, encoder, keys)
    (tmp_path / "lost" / "model.pt").unlink()  # its files went missing after training

    broker = filesystem_broker(tmp_path)
    with running_worker(broker, tmp_path / "worker.log") as worker:
        broker.app.send_task("recommender.activate_behaviour", args=[good.pk])
        broker.app.send_task("recommender.activate_behaviour", args=[lost.pk])
        done = wait_until(
            lambda: (
                ModelVersion.objects.filter(pk=lost.pk, message__startswith="Activation failed").exists()
                and ModelVersion.objects.get(pk=good.pk).state == "active"
            ),
            timeout=90,
        )
        assert done, f"the worker did not finish both activations:\n{worker.log()}"

    assert ProductVector.objects.filter(version=good).count() == len(products)
    lost.refresh_from_db()
    assert lost.state == "ready" and "model.pt" in lost.message
    assert not ProductVector.objects.filter(version=lost).exists()


def test_plain_documented_worker_takes_embedding_work(tiny_encoder, tmp_path):
    """README's `celery -A <project> worker` (no -Q) must re-embed an edited product: by default
    embedding tasks go where that worker listens, not to a queue nobody consumes."""
    from recommender.tasks import embeddings_routing
    from recommender.versions import activate, register_encoder_version

    version = activate(register_encoder_version(tiny_encoder))
    product = Product.objects.create(name="Black wrap dress", category="Dresses")
    ProductVector.objects.filter(product_key=str(product.pk)).delete()  # eager save embedded it: start clean
    broker = filesystem_broker(tmp_path)
    with running_worker(broker, tmp_path / "worker.log", queues=None) as worker:
        broker.app.send_task(
            "recommender.embed_products", args=[[str(product.pk)], [version.pk]], **embeddings_routing()
        )
        done = wait_until(
            lambda: ProductVector.objects.filter(product_key=str(product.pk), status="ok").exists(), timeout=90
        )
        assert done, f"the plain worker never embedded the product:\n{worker.log()}"


def test_a_named_embeddings_queue_routes_there(settings):
    from recommender.tasks import embeddings_routing

    assert embeddings_routing() == {}
    settings.RECOMMENDER = {**settings.RECOMMENDER, "EMBEDDINGS_QUEUE": "gpu"}
    assert embeddings_routing() == {"queue": "gpu"}
