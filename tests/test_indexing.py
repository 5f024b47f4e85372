"""The embedding pipeline through the real stack: open_clip (tiny image tower, real MiniLM
text tower), real image files, Postgres + pgvector, signals and eager Celery tasks."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile

from recommender.indexing import embed_pending, reindex
from recommender.models import ModelVersion, ProductVector, RecommenderSettings
from recommender.storage import nearest
from recommender.tasks import enqueue_embedding
from recommender.versions import encoder_for, register_encoder_version, serving_version, start_build
from tests.factories import product_with_image
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db

BLACK, RED, WHITE_ISH, NAVY = (15, 15, 15), (200, 20, 30), (235, 235, 225), (20, 30, 90)


def _catalog() -> list[Product]:
    return [
        product_with_image(
            "Strappy dress", "Short black summer dress in airy jersey", BLACK, category="Dress", colour="black"
        ),
        product_with_image(
            "Midi dress", "Black sleeveless dress for warm days", BLACK, category="Dress", colour="black"
        ),
        product_with_image("Wool coat", "Warm red winter coat with buttons", RED, category="Coat", colour="red"),
        product_with_image("Denim jeans", "Navy slim-fit denim trousers", NAVY, category="Trousers", colour="navy"),
        product_with_image("Canvas sneakers", "White low-top sneakers", WHITE_ISH, category="Shoes", colour="white"),
        product_with_image("Knit jumper", "Chunky red knitted sweater", RED, category="Knitwear", colour="red"),
    ]


def _rows(version: ModelVersion) -> dict[str, ProductVector]:
    return {r.product_key: r for r in ProductVector.objects.filter(version=version)}


def test_reindex_stores_image_text_and_fused_vectors(tiny_encoder):
    products = _catalog()
    report = reindex()
    version = serving_version()
    assert version is not None and version.dimensions == 384
    assert (report.embedded, report.failed) == (len(products), 0)
    rows = _rows(version)
    assert set(rows) == {str(p.pk) for p in products}
    for row in rows.values():
        assert row.status == "ok" and row.error == ""
        image, text, fused = (np.asarray(v) for v in (row.image_embedding, row.text_embedding, row.embedding))
        w = RecommenderSettings.get().image_weight
        expected = w * image + (1 - w) * text
        np.testing.assert_allclose(fused, expected / np.linalg.norm(expected), atol=1e-5)
        assert row.title and row.category


def test_text_query_finds_black_dresses(tiny_encoder):
    products = {p.name: p for p in _catalog()}
    reindex()
    query = encoder_for(serving_version()).encode_texts(["black summer dress"])[0]
    top = [k for k, _ in nearest(query, k=2, column="text_embedding")]
    assert set(top) == {str(products["Strappy dress"].pk), str(products["Midi dress"].pk)}


def test_rerun_skips_unchanged_and_a_save_reembeds_only_that_product(tiny_encoder, django_capture_on_commit_callbacks):
    products = _catalog()
    reindex()
    assert reindex().skipped == len(products)
    version = serving_version()
    before = _rows(version)
    coat = products[2]
    with django_capture_on_commit_callbacks(execute=True):
        coat.description = "Long camel wool coat"
        coat.save()
    after = _rows(version)
    assert after[str(coat.pk)].content_hash != before[str(coat.pk)].content_hash
    assert not np.allclose(after[str(coat.pk)].text_embedding, before[str(coat.pk)].text_embedding)
    unchanged = [k for k in before if k != str(coat.pk)]
    assert all(after[k].updated_at == before[k].updated_at for k in unchanged)


def test_stock_change_updates_filters_without_reembedding(tiny_encoder, django_capture_on_commit_callbacks):
    products = _catalog()
    reindex()
    row = ProductVector.objects.get(product_key=str(products[0].pk))
    with django_capture_on_commit_callbacks(execute=True):
        Product.objects.get(pk=products[0].pk).__class__.objects.filter(pk=products[0].pk).update(in_stock=False)
        products[0].in_stock = False
        products[0].save()
    again = ProductVector.objects.get(pk=row.pk)
    assert again.in_stock is False
    assert again.content_hash == row.content_hash


def test_bad_images_are_recorded_and_the_product_keeps_a_text_vector(tiny_encoder, settings):
    good = product_with_image("Good", "Plain white shirt", WHITE_ISH, category="Shirt")
    corrupt = Product(name="Corrupt", description="Striped shirt", category="Shirt")
    corrupt.image.save("corrupt.jpg", ContentFile(b"\xff\xd8\xff\xe0 not really a jpeg"), save=False)
    corrupt.save()
    missing = product_with_image("Missing", "Linen shirt", RED, category="Shirt")
    missing.image.storage.delete(missing.image.name)
    empty = Product.objects.create(name="", description="", category="")
    settings.RECOMMENDER = {**settings.RECOMMENDER, "TEXT_TEMPLATE": "{title} {text}"}

    report = reindex()

    rows = _rows(serving_version())
    assert rows[str(good.pk)].image_embedding is not None
    for product in (corrupt, missing):
        row = rows[str(product.pk)]
        assert row.status == "ok" and row.image_embedding is None and row.embedding is not None
        assert row.error.startswith("image:")
    assert "not found" in rows[str(missing.pk)].error or "missing" in rows[str(missing.pk)].error
    assert rows[str(empty.pk)].status == "failed" and "no text" in rows[str(empty.pk)].error
    assert report.failed == 1 and report.embedded == 3


def test_deleting_a_product_removes_its_vectors(tiny_encoder, django_capture_on_commit_callbacks):
    products = _catalog()
    reindex()
    gone = str(products[0].pk)
    with django_capture_on_commit_callbacks(execute=True):
        products[0].delete()
    assert not ProductVector.objects.filter(product_key=gone).exists()
    assert ProductVector.objects.count() == len(products) - 1


def test_new_version_builds_beside_the_active_one_and_switches_when_complete(
    tiny_encoder, tiny_model_dir, django_capture_on_commit_callbacks
):
    products = _catalog()
    reindex()
    old = serving_version()
    new = start_build(register_encoder_version({"MODEL": f"local-dir:{tiny_model_dir}"}, name="candidate"))
    assert new.state == "building" and serving_version() == old
    # A save while building goes to both versions.
    with django_capture_on_commit_callbacks(execute=True):
        products[0].description = "Black summer dress, now in linen"
        products[0].save()
    assert ProductVector.objects.filter(version=new).count() == 1
    assert serving_version() == old  # incomplete: the old version keeps serving
    reindex(new)
    new.refresh_from_db()
    old.refresh_from_db()
    assert (new.state, old.state) == ("active", "retired")
    assert serving_version() == new and new.progress == 1.0


def test_broker_down_marks_pending_and_nothing_is_lost(tiny_encoder):
    products = _catalog()
    reindex()
    version = serving_version()
    key = str(products[1].pk)
    Product.objects.filter(pk=products[1].pk).update(description="Black maxi dress")
    from tasks.celery import app

    def use_broker(url: str, eager: bool) -> None:
        app.conf.task_always_eager = eager
        app.conf.broker_url = url
        app._pool = None  # connection pools are cached per URL: drop them with the URL
        app.amqp._producer_pool = None

    use_broker("redis://127.0.0.1:1/0", eager=False)  # nothing listens on port 1
    try:
        assert enqueue_embedding([key]) is False
    finally:
        use_broker("memory://", eager=True)
    row = ProductVector.objects.get(version=version, product_key=key)
    assert row.status == "pending" and row.embedding is not None  # the old vector keeps serving
    assert embed_pending().embedded == 1
    assert ProductVector.objects.get(version=version, product_key=key).status == "ok"


def test_reindex_command_prints_a_summary(tiny_encoder, capsys):
    from django.core.management import call_command

    _catalog()
    call_command("recommender_reindex", "--batch-size", "4", verbosity=0)
    out = capsys.readouterr().out
    assert "Embedded 6, unchanged 0, failed 0" in out and "Serving:" in out


def test_a_failing_encoder_never_fails_the_shops_save(settings, django_capture_on_commit_callbacks):
    from tests.factories import encoder_version

    version = encoder_version(3)  # its config names no loadable model
    with django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.create(name="Plain tee", description="White cotton tee", category="Tops")
    row = ProductVector.objects.get(version=version, product_key=str(product.pk))
    assert row.status == "pending" and row.embedding is None
