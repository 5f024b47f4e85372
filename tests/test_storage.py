"""Vector storage on real Postgres + pgvector: upserts, indexes, filtered and exact queries."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from django.db import connection

from recommender.models import ModelVersion, ProductVector
from recommender.storage import (
    StorageError,
    VectorFilter,
    VectorRow,
    delete_product_vectors,
    ensure_indexes,
    index_name,
    nearest,
    store_vectors,
)
from tests.factories import clustered_vectors, encoder_version

pytestmark = pytest.mark.django_db


def _rows(vectors: np.ndarray, categories=("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")) -> list[VectorRow]:
    return [
        VectorRow(
            key=f"p{i}",
            embedding=v,
            image_embedding=v,
            text_embedding=-v,
            category=categories[i % len(categories)],
            price=Decimal(i % 100),
            in_stock=i % 7 != 0,
        )
        for i, v in enumerate(vectors)
    ]


def test_store_and_query_returns_nearest_first():
    version = encoder_version(4)
    vecs = np.eye(4, dtype=np.float32)
    store_vectors(version, [VectorRow(key=str(i), embedding=v) for i, v in enumerate(vecs)])
    result = nearest([0.9, 0.1, 0, 0], version=version, k=2)
    assert [k for k, _ in result] == ["0", "1"]
    assert result[0][1] > result[1][1]


def test_upsert_keeps_one_row_per_product_and_version():
    version = encoder_version(3)
    store_vectors(version, [VectorRow(key="x", embedding=[1, 0, 0], content_hash="h1")])
    store_vectors(version, [VectorRow(key="x", embedding=[0, 1, 0], content_hash="h2")])
    rows = ProductVector.objects.filter(version=version, product_key="x")
    assert rows.count() == 1
    assert rows.get().content_hash == "h2"
    assert nearest([0, 1, 0], version=version, k=1)[0][0] == "x"


def test_wrong_dimension_and_nan_are_refused_with_a_clear_error():
    version = encoder_version(3)
    with pytest.raises(StorageError, match="has 2 dimensions; this model version stores 3"):
        store_vectors(version, [VectorRow(key="x", embedding=[1, 0])])
    with pytest.raises(StorageError, match="NaN"):
        store_vectors(version, [VectorRow(key="x", embedding=[1, float("nan"), 0])])
    with pytest.raises(StorageError, match="query vector has 4"):
        nearest([1, 0, 0, 0], version=version)


def test_versions_have_different_dimensions_side_by_side():
    old = encoder_version(3, state=ModelVersion.State.ACTIVE, name="old")
    new = encoder_version(5, state=ModelVersion.State.BUILDING, name="new")
    store_vectors(old, [VectorRow(key="a", embedding=[1, 0, 0])])
    store_vectors(new, [VectorRow(key="a", embedding=[0, 0, 0, 0, 1])])
    ensure_indexes(old)
    ensure_indexes(new)
    assert nearest([1, 0, 0]) == [("a", pytest.approx(1.0))]  # the active version serves by default
    assert nearest([0, 0, 0, 0, 1], version=new)[0][0] == "a"


def test_filters_apply_inside_the_query():
    version = encoder_version(8)
    store_vectors(version, _rows(clustered_vectors(200, 8, 5)))
    q = clustered_vectors(1, 8, 5, seed=1)[0]
    flt = VectorFilter(categories=["b", "c"], min_price=10, max_price=60, exclude_keys=["p12"])
    keys = [k for k, _ in nearest(q, version=version, k=50, filters=flt)]
    rows = {r.product_key: r for r in ProductVector.objects.filter(product_key__in=keys)}
    assert keys and "p12" not in keys
    assert all(rows[k].category in ("b", "c") and 10 <= rows[k].price <= 60 and rows[k].in_stock for k in keys)
    unfiltered = nearest(q, version=version, k=50, filters=VectorFilter(in_stock=False))
    assert len(unfiltered) == 50


def test_text_and_image_columns_are_queried_separately():
    version = encoder_version(3)
    store_vectors(
        version, [VectorRow(key="a", embedding=[1, 0, 0], image_embedding=[1, 0, 0], text_embedding=[0, 1, 0])]
    )
    assert nearest([0, 1, 0], version=version, column="text_embedding")[0][1] == pytest.approx(1.0)
    assert nearest([0, 1, 0], version=version, column="image_embedding")[0][1] == pytest.approx(0.0, abs=1e-6)


def test_delete_removes_every_versions_vectors():
    v1, v2 = encoder_version(3, name="a"), encoder_version(3, state=ModelVersion.State.READY, name="b")
    for v in (v1, v2):
        store_vectors(v, [VectorRow(key="gone", embedding=[1, 0, 0]), VectorRow(key="kept", embedding=[0, 1, 0])])
    delete_product_vectors(["gone"])
    assert set(ProductVector.objects.values_list("product_key", flat=True)) == {"kept"}


def _explain(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(r[0] for r in cursor.fetchall())


def test_hnsw_index_is_used_and_recall_is_high_on_clustered_data():
    dims, n = 32, 3000
    version = encoder_version(dims)
    vecs = clustered_vectors(n, dims, 30, spread=0.5)
    store_vectors(version, _rows(vecs))
    ensure_indexes(version)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE recommender_productvector")
    literal = "[" + ",".join(str(float(x)) for x in vecs[0]) + "]"
    plan = _explain(
        f"SELECT product_key FROM recommender_productvector WHERE version_id = %s AND embedding IS NOT NULL "
        f"ORDER BY embedding::vector({dims}) <=> %s::vector({dims}) LIMIT 10",
        [version.pk, literal],
    )
    assert index_name(version, "embedding") in plan
    queries = clustered_vectors(30, dims, 30, spread=0.5, seed=7)
    flt = VectorFilter(in_stock=False)
    hits = 0
    for q in queries:
        approx = {k for k, _ in nearest(q, version=version, k=10, filters=flt)}
        exact = {k for k, _ in nearest(q, version=version, k=10, filters=flt, exact=True)}
        hits += len(approx & exact)
    assert hits / (10 * len(queries)) >= 0.9


def test_selective_filter_still_returns_k_rows_through_the_index():
    dims, n = 16, 3000
    version = encoder_version(dims)
    store_vectors(version, _rows(clustered_vectors(n, dims, 20)))  # 10 categories: 10 % selectivity
    ensure_indexes(version)
    q = clustered_vectors(1, dims, 20, seed=3)[0]
    result = nearest(q, version=version, k=40, filters=VectorFilter(in_stock=False, categories=["c"]))
    assert len(result) == 40
    exact = nearest(q, version=version, k=40, filters=VectorFilter(in_stock=False, categories=["c"]), exact=True)
    assert len({k for k, _ in result} & {k for k, _ in exact}) >= 36


def test_vectors_stay_inline_not_in_toast():
    """Three 512-d vectors (6 kB) fit a page: migration 0006 keeps them out of TOAST, where exact
    scans, index builds and re-ranking would read every vector through the TOAST index."""
    version = encoder_version(512)
    vectors = clustered_vectors(20, 512, 4, seed=3)
    store_vectors(version, _rows(vectors))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {ProductVector._meta.db_table} WHERE version_id = %s AND ("
            "pg_column_toast_chunk_id(embedding) IS NOT NULL OR pg_column_toast_chunk_id(image_embedding) IS NOT NULL "
            "OR pg_column_toast_chunk_id(text_embedding) IS NOT NULL)",
            [version.pk],
        )
        assert cursor.fetchone()[0] == 0  # no value of these rows is stored out of line
    assert nearest(vectors[1], version=version, k=1, exact=True)[0][0] == "p1"


def test_halfvec_setting_builds_and_uses_half_precision_indexes(settings):
    dims, n = 32, 2000
    settings.RECOMMENDER = {**settings.RECOMMENDER, "HNSW_HALFVEC": True}
    version = encoder_version(dims)
    vecs = clustered_vectors(n, dims, 30, spread=0.5, seed=11)
    store_vectors(version, _rows(vecs))
    names = ensure_indexes(version)
    assert names == [index_name(version, c, half=True) for c in ("embedding", "image_embedding", "text_embedding")]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE recommender_productvector")
    literal = "[" + ",".join(str(float(x)) for x in vecs[0]) + "]"
    plan = _explain(
        f"SELECT product_key FROM recommender_productvector WHERE version_id = %s AND embedding IS NOT NULL "
        f"ORDER BY embedding::halfvec({dims}) <=> %s::halfvec({dims}) LIMIT 10",
        [version.pk, literal],
    )
    assert index_name(version, "embedding", half=True) in plan
    queries = clustered_vectors(20, dims, 30, spread=0.5, seed=12)
    overlap = [
        len(
            {k for k, _ in nearest(q, version=version, k=10)}
            & {k for k, _ in nearest(q, version=version, k=10, exact=True)}
        )
        for q in queries
    ]
    assert sum(overlap) / (10 * len(queries)) >= 0.9  # half precision barely moves the neighbours

    settings.RECOMMENDER = {**settings.RECOMMENDER, "HNSW_HALFVEC": False}  # switched back: float32 indexes again
    assert ensure_indexes(version)[0] == index_name(version, "embedding", half=False) != names[0]


def test_vector_rows_read_in_binary_equal_what_the_orm_reads():
    from recommender.storage import fetch_vectors, vector_rows

    version = encoder_version(5)
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3, 5)).astype(np.float32)
    store_vectors(
        version,
        [
            VectorRow(
                key="a",
                embedding=vectors[0],
                text_embedding=vectors[1],
                title="A",
                category="c1",
                price=Decimal("12.5000"),
                in_stock=False,
            ),
            VectorRow(key="b", embedding=vectors[2], title="B", category="c2", price=None),
            VectorRow(key="c", embedding=None, status="failed", title="C"),
        ],
    )
    orm = dict(ProductVector.objects.filter(version=version).values_list("product_key", "embedding"))

    got = fetch_vectors(version, ["a", "b", "c", "unknown"])
    assert set(got) == {"a", "b"}  # no vector, or no row: absent
    for key in got:
        assert got[key].dtype == np.float32 and np.array_equal(got[key], np.asarray(orm[key], dtype=np.float32))
    assert set(fetch_vectors(version, ["a", "b"], "text_embedding")) == {"a"}

    rows = vector_rows(version, ["a", "c"], ("title", "price", "in_stock"), with_vector_only=False)
    assert rows["a"][:3] == ("A", Decimal("12.5000"), False) and np.array_equal(rows["a"][3], vectors[0])
    assert rows["c"] == ("C", None, True, None)
    assert vector_rows(version, ["a", "c"], ("title",), None) == {"a": ("A", None), "c": ("C", None)}
    assert fetch_vectors(version, []) == {}
    with pytest.raises(ValueError, match="Unknown product vector fields"):
        vector_rows(version, ["a"], ("title; DROP TABLE x",))
    with pytest.raises(ValueError, match="Unknown vector column"):
        fetch_vectors(version, ["a"], "id")
