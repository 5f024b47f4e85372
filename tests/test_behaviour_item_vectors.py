"""The behaviour version's product output vectors in pgvector: written at activation, kept current
by the embedding pipeline (new products, stock changes, deletions), dropped when retired.

The first test runs the real stack: a tiny real open_clip encoder embeds real images, the model
trains on the shop's events, and a product created afterwards reaches "for you" through the
worker path (eager Celery here) without retraining.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from recommender.behaviour import serving
from recommender.indexing import reindex
from recommender.models import Event, ModelVersion, ProductVector
from recommender.storage import VectorFilter, index_name, nearest
from recommender.versions import serving_version
from tests.factories import product_with_image
from tests.test_behaviour_shop import _events
from tests.test_indexing import BLACK, RED, _catalog

pytestmark = pytest.mark.django_db


def _browse(products, sessions: int = 30) -> None:
    """Shoppers who view the catalogue in one cyclic order from a random start."""
    rng = np.random.default_rng(0)
    start = timezone.now() - timedelta(days=1)
    keys = [str(p.pk) for p in products]
    Event.objects.bulk_create(
        [
            Event(
                type="view",
                session_key=f"s{s}",
                product_key=keys[(first + step) % len(keys)],
                created_at=start + timedelta(minutes=10 * s + step),
                processed=True,
            )
            for s, first in enumerate(rng.integers(len(keys), size=sessions))
            for step in range(5)
        ]
    )


def _output_vector(version: ModelVersion, key: str) -> np.ndarray:
    """What the artifact says the product's output vector is, from its encoder vector."""
    import torch

    loaded = serving.load_version(version)
    x = ProductVector.objects.get(version=serving_version(), product_key=key).embedding
    with torch.inference_mode():
        out = loaded.model.output_vectors(
            torch.tensor(np.asarray(x, dtype=np.float32))[None], torch.tensor([loaded.index.get(key, -1) + 1])
        )
    return out[0].numpy()


def _trained_shop() -> tuple[list, ModelVersion]:
    """The indexing tests' catalogue, embedded by the tiny encoder, browsed, and an active behaviour model."""
    from recommender.training.behaviour.train import train_behaviour

    products = _catalog()
    reindex()
    _browse(products)
    return products, train_behaviour(activate=True)


def test_new_products_get_output_vectors_through_the_embedding_pipeline(
    tiny_encoder, behaviour_settings, django_capture_on_commit_callbacks
):
    products, version = _trained_shop()
    rows = {r.product_key: r for r in ProductVector.objects.filter(version=version)}
    assert set(rows) == {str(p.pk) for p in products}
    key = str(products[2].pk)
    np.testing.assert_allclose(rows[key].embedding, _output_vector(version, key), rtol=1e-5, atol=1e-5)

    # a product created after training: the save embeds it, and the behaviour row follows
    with django_capture_on_commit_callbacks(execute=True):
        new = product_with_image("Silk dress", "Black evening dress in silk", BLACK, category="Dress")
    new_key = str(new.pk)
    row = ProductVector.objects.get(version=version, product_key=new_key)
    expected = _output_vector(version, new_key)  # never seen in training: features alone
    np.testing.assert_allclose(row.embedding, expected, rtol=1e-5, atol=1e-5)
    assert row.category == "Dress" and row.in_stock
    assert nearest(expected, version=version, k=1)[0][0] == new_key

    # stock and deletion reach the behaviour rows too: the filtered query no longer finds it
    with django_capture_on_commit_callbacks(execute=True):
        new.in_stock = False
        new.save()
    assert ProductVector.objects.get(version=version, product_key=new_key).in_stock is False
    assert new_key not in [k for k, _ in nearest(expected, version=version, k=20, filters=VectorFilter())]
    coat = str(products[2].pk)
    with django_capture_on_commit_callbacks(execute=True):
        products[2].delete()
    assert not ProductVector.objects.filter(version=version, product_key=coat).exists()


def test_a_behaviour_model_for_another_encoder_version_writes_nothing(
    tiny_encoder, behaviour_settings, django_capture_on_commit_callbacks
):
    _, version = _trained_shop()
    version.config = {**version.config, "encoder_version_id": serving_version().pk + 1000}
    version.save(update_fields=["config"])
    with django_capture_on_commit_callbacks(execute=True):
        new = product_with_image("Red scarf", "Soft red wool scarf", RED, category="Accessories")
    assert ProductVector.objects.filter(version=serving_version(), product_key=str(new.pk)).exists()
    assert not ProductVector.objects.filter(version=version, product_key=str(new.pk)).exists()


def _index_exists(name: str) -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        return cursor.fetchone() is not None


def test_only_the_active_version_keeps_rows_and_reactivation_restores_them(vector_shop, behaviour_settings):
    from recommender.training.behaviour.train import train_behaviour
    from recommender.versions import activate

    _events(vector_shop)
    first = train_behaviour(activate=True)
    second = train_behaviour(activate=False)  # trained, not serving: no rows yet
    assert ProductVector.objects.filter(version=first).count() == len(vector_shop)
    assert not ProductVector.objects.filter(version=second).exists()
    assert _index_exists(index_name(first, "embedding"))

    activate(second)
    first.refresh_from_db()
    assert first.state == ModelVersion.State.RETIRED
    assert ProductVector.objects.filter(version=second).count() == len(vector_shop)
    assert not ProductVector.objects.filter(version=first).exists()
    assert not _index_exists(index_name(first, "embedding")) and _index_exists(index_name(second, "embedding"))

    activate(first)  # rolling back writes the old version's rows again, from its artifact
    assert ProductVector.objects.filter(version=first).count() == len(vector_shop)
    assert not ProductVector.objects.filter(version=second).exists()
    assert serving.behaviour_user_vector(None, "s0") is not None
