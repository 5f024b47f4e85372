"""Product vectors in the admin: re-embed and retry actions, "reindex all", the progress page,
filters, and vectors shown as a dimension plus a few numbers only. The actions run through the
real pipeline (tiny open_clip model, eager Celery)."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from django.urls import reverse

from recommender import tasks
from recommender.indexing import reindex
from recommender.models import ModelVersion, ProductVector
from recommender.storage import VectorRow, store_vectors
from recommender.versions import serving_version
from tests.factories import encoder_version, product_with_image
from tests.test_admin import catalog, fast_passwords, fresh_cache, vector_rows  # noqa: F401 - autouse fixtures

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/recommender/productvector/"
PROGRESS = "/admin/recommender/productvector/progress/"
REINDEX = "/admin/recommender/productvector/reindex/"


@pytest.fixture
def embedded(tiny_encoder) -> dict:
    """Three products embedded by the tiny model into the active version."""
    products = [
        product_with_image("Strappy dress", "Short black summer dress", (15, 15, 15), category="Dress"),
        product_with_image("Wool coat", "Warm red winter coat", (200, 20, 30), category="Coat"),
        product_with_image("Denim jeans", "Navy slim-fit denim trousers", (20, 30, 90), category="Trousers"),
    ]
    reindex()
    version = serving_version()
    rows = {r.product_key: r for r in ProductVector.objects.filter(version=version)}
    assert {r.status for r in rows.values()} == {"ok"}
    return {"products": products, "version": version, "rows": rows}


def _action(client, action: str, rows) -> None:
    response = client.post(CHANGELIST, {"action": action, "_selected_action": [r.pk for r in rows]})
    assert response.status_code == 302


def test_reembed_marks_rows_pending_and_queues_them_after_commit(
    admin_client, embedded, django_capture_on_commit_callbacks
):
    row = next(iter(embedded["rows"].values()))
    ProductVector.objects.filter(pk=row.pk).update(embedding=None, text_embedding=None, status="failed", error="boom")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _action(admin_client, "reembed_selected", [row])
    assert ProductVector.objects.get(pk=row.pk).status == "pending"  # visible until the worker is done
    assert len(callbacks) == 1

    with django_capture_on_commit_callbacks(execute=True):
        _action(admin_client, "reembed_selected", [row])
    again = ProductVector.objects.get(pk=row.pk)
    assert again.status == "ok" and again.embedding is not None and again.updated_at > row.updated_at
    np.testing.assert_allclose(again.text_embedding, row.text_embedding, atol=1e-5)  # same model, same text


def test_reembed_goes_to_the_rows_own_version(admin_client, embedded, django_capture_on_commit_callbacks):
    row = next(iter(embedded["rows"].values()))
    with mock.patch.object(tasks, "enqueue_embedding") as enqueue, django_capture_on_commit_callbacks(execute=True):
        _action(admin_client, "reembed_selected", [row])
    enqueue.assert_called_once_with([row.product_key], version_ids=[embedded["version"].pk], force=True)


def test_retry_failed_requeues_every_failed_row_of_the_selected_versions(
    admin_client, embedded, django_capture_on_commit_callbacks
):
    rows = list(embedded["rows"].values())
    failed = rows[:2]
    ProductVector.objects.filter(pk__in=[r.pk for r in failed]).update(
        status="failed", error="image: truncated", embedding=None
    )
    untouched = rows[2]
    with django_capture_on_commit_callbacks(execute=True):
        _action(admin_client, "retry_failed", [untouched])  # selecting any row of the version is enough
    after = {r.pk: r for r in ProductVector.objects.filter(version=embedded["version"])}
    assert all(after[r.pk].status == "ok" and after[r.pk].embedding is not None for r in failed)
    assert after[untouched.pk].updated_at == untouched.updated_at  # not re-embedded


def test_reindex_all_runs_recommender_reindex(admin_client, embedded, django_capture_on_commit_callbacks):
    new = product_with_image("Canvas sneakers", "White low-top sneakers", (235, 235, 225), category="Shoes")
    assert not ProductVector.objects.filter(product_key=str(new.pk)).exists()  # saved without a worker
    with mock.patch.object(tasks.reindex, "delay", wraps=tasks.reindex.delay) as delay:
        response = admin_client.post(REINDEX)
    assert response.status_code == 302 and response["Location"] == PROGRESS + "?follow=1"
    delay.assert_called_once_with(embedded["version"].pk, False)
    assert ProductVector.objects.get(product_key=str(new.pk), version=embedded["version"]).status == "ok"
    page = admin_client.get(PROGRESS + "?follow=1")
    status = page.context["index_status"]
    assert status.catalog == 4 and status.versions[0].ok == 4 and status.complete
    assert b'http-equiv="refresh"' not in page.content  # nothing left to wait for


def test_reindex_all_sends_one_task_per_maintained_version(admin_client, django_capture_on_commit_callbacks):
    active = encoder_version(8, name="blue")
    building = encoder_version(8, state=ModelVersion.State.BUILDING, name="green")
    encoder_version(8, state=ModelVersion.State.RETIRED, name="old")
    with mock.patch.object(tasks.reindex, "delay") as delay:
        admin_client.post(REINDEX, {"force": "1"})
    assert delay.call_args_list == [mock.call(active.pk, True), mock.call(building.pk, True)]
    assert admin_client.get(REINDEX).status_code == 405


def test_progress_page_counts_and_refreshes_while_work_is_pending(admin_client):
    products = catalog(5)
    version = encoder_version(8, name="blue")
    vector_rows(version, products[:2])
    vector_rows(version, products[2:3], status="failed")
    store_vectors(version, [VectorRow(key=str(products[3].pk), embedding=None, status="pending")])
    page = admin_client.get(PROGRESS)
    progress = page.context["index_status"].versions[0]
    assert (progress.catalog, progress.ok, progress.failed, progress.pending, progress.missing) == (5, 2, 1, 1, 1)
    assert progress.fraction == pytest.approx(3 / 5)
    html = page.content.decode()
    assert 'http-equiv="refresh" content="5"' in html
    assert '<td class="ok">2</td><td class="failed">1</td><td class="pending">1</td><td class="missing">1</td>' in html
    ProductVector.objects.filter(status="pending").update(status="ok")
    assert b'http-equiv="refresh"' not in admin_client.get(PROGRESS).content
    assert b'http-equiv="refresh"' in admin_client.get(PROGRESS + "?follow=1").content  # one product still missing


def test_vector_detail_shows_dimensions_and_a_few_numbers_only(admin_client):
    product = catalog(1)[0]
    version = encoder_version(8)
    vector = np.array([0.11, -0.22, 0.33, -0.44, 0.55, -0.66, 0.7777, 0.8888], dtype=np.float32)
    store_vectors(version, [VectorRow(key=str(product.pk), embedding=vector, text_embedding=vector, title="Dress")])
    row = ProductVector.objects.get()
    html = admin_client.get(reverse("admin:recommender_productvector_change", args=[row.pk])).content.decode()
    assert "8 dimensions" in html and "+0.1100, -0.2200" in html and "-0.6600" in html
    assert "0.7777" not in html and "0.8888" not in html  # the rest is never printed
    assert "<textarea" not in html and 'name="embedding"' not in html
    assert admin_client.post(reverse("admin:recommender_productvector_change", args=[row.pk]), {}).status_code == 403
    assert admin_client.get(reverse("admin:recommender_productvector_add")).status_code == 403


def test_vector_filters_and_search(admin_client):
    products = catalog(4)
    active = encoder_version(8, name="blue")
    retired = encoder_version(8, state=ModelVersion.State.RETIRED, name="old")
    vector_rows(active, products[:3])  # products 0 and 2 have image vectors
    vector_rows(active, products[3:], status="failed")
    vector_rows(retired, products[:1])
    store_vectors(active, [VectorRow(key="gone", embedding=None, status="pending", title="Ghost")])

    def keys(query: str) -> list[tuple[str, int]]:
        result = admin_client.get(CHANGELIST + query).context["cl"].result_list
        return sorted((r.product_key, r.version_id) for r in result)

    k = [str(p.pk) for p in products]
    assert keys("?status__exact=failed") == [(k[3], active.pk)]
    assert keys("?stale=yes") == sorted([("gone", active.pk), (k[0], retired.pk)])
    assert keys(f"?version__id__exact={retired.pk}") == [(k[0], retired.pk)]
    assert keys("?has_image=yes") == sorted([(k[0], active.pk), (k[2], active.pk), (k[0], retired.pk)])
    assert keys("?in_stock__exact=0") == [(k[2], active.pk)]
    assert keys("?category=Coat") == [(k[1], active.pk)]
    assert keys("?q=Ghost") == [("gone", active.pk)]
    assert keys(f"?q={k[1]}") == [(k[1], active.pk)]
