"""Product vector storage in pgvector: write, index per version, nearest-neighbour queries.

    version = ModelVersion.objects.active(ModelVersion.Kind.ENCODER)
    store_vectors(version, [VectorRow(key="42", embedding=vec, ...)])
    ensure_indexes(version)
    nearest(query_vec, version=version, k=10, filters=VectorFilter(in_stock=True, categories=["Dress"]))

The vector columns are dimensionless; each version gets partial HNSW expression indexes
that cast to its dimension, and every query repeats that cast and the version condition so
the planner uses them. Filtered queries rely on pgvector's iterative index scans
(``hnsw.iterative_scan``) to still return k rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from recommender.conf import app_settings
from recommender.db_binding import server_side_binding
from recommender.models import ModelVersion, ProductVector

VECTOR_COLUMNS = ("embedding", "image_embedding", "text_embedding")
# pgvector's HNSW indexes `vector` up to 2,000 dimensions and `halfvec` up to 4,000.
MAX_VECTOR_INDEX_DIMS = 2000
MAX_HALFVEC_INDEX_DIMS = 4000


class StorageError(Exception):
    """A vector does not fit the version it is stored or queried under."""


@dataclass
class VectorRow:
    """One product's vectors and filter fields for one version."""

    key: str
    embedding: np.ndarray | None
    image_embedding: np.ndarray | None = None
    text_embedding: np.ndarray | None = None
    content_hash: str = ""
    status: str = ProductVector.Status.OK
    error: str = ""
    title: str = ""
    document: str = ""
    category: str = ""
    price: Decimal | None = None
    in_stock: bool = True
    sellable: bool = True


@dataclass
class VectorFilter:
    """Conditions applied inside the nearest-neighbour query."""

    in_stock: bool = True
    sellable: bool = True
    categories: Sequence[str] = ()
    exclude_categories: Sequence[str] = ()
    min_price: Decimal | float | None = None
    max_price: Decimal | float | None = None
    exclude_keys: Sequence[str] = ()
    only_keys: Sequence[str] | None = None
    extra: dict = field(default_factory=dict)


def _vector_type(dimensions: int) -> str:
    """The type indexes and queries cast vectors to: halfvec above pgvector's vector-index limit
    or when ``HNSW_HALFVEC`` asks for it."""
    if dimensions <= MAX_VECTOR_INDEX_DIMS and not app_settings.HNSW_HALFVEC:
        return f"vector({dimensions})"
    if dimensions <= MAX_HALFVEC_INDEX_DIMS:
        return f"halfvec({dimensions})"
    raise StorageError(f"{dimensions}-dimensional vectors cannot be HNSW-indexed by pgvector (max 4000).")


def _require_dimensions(version: ModelVersion) -> int:
    if not version.dimensions:
        raise StorageError(f"Model version {version.pk} has no dimensions set; it cannot store vectors.")
    return int(version.dimensions)


def index_name(version: ModelVersion, column: str, *, half: bool | None = None) -> str:
    """The version's index on ``column``; halfvec indexes get their own name, so switching
    ``HNSW_HALFVEC`` builds new ones instead of finding the old kind."""
    if half is None:  # above 2,000 dimensions halfvec is the only kind: those keep the plain name
        half = bool(app_settings.HNSW_HALFVEC) and _require_dimensions(version) <= MAX_VECTOR_INDEX_DIMS
    return f"recommender_pv_v{version.pk}_{column}_hnsw" + ("_half" if half else "")


def ensure_indexes(version: ModelVersion, columns: Iterable[str] = VECTOR_COLUMNS) -> list[str]:
    """Create the version's cosine HNSW indexes if missing; returns their names."""
    dims = _require_dimensions(version)
    vtype = _vector_type(dims)
    ops = "halfvec_cosine_ops" if vtype.startswith("halfvec") else "vector_cosine_ops"
    table = ProductVector._meta.db_table
    names = []
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            # Deferred FK checks from rows written in this transaction would block CREATE INDEX.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for column in columns:
            if column not in VECTOR_COLUMNS:
                raise ValueError(f"Unknown vector column {column!r}")
            name = index_name(version, column)
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING hnsw "
                f"(({column}::{vtype}) {ops}) WITH (m = %s, ef_construction = %s) "
                f"WHERE version_id = {int(version.pk)}",
                [int(app_settings.HNSW_M), int(app_settings.HNSW_EF_CONSTRUCTION)],
            )
            names.append(name)
    return names


def drop_indexes(version: ModelVersion) -> None:
    """Drop a retired version's indexes (its rows go with the version)."""
    with connection.cursor() as cursor:
        for column in VECTOR_COLUMNS:
            for half in (False, True):
                cursor.execute(f"DROP INDEX IF EXISTS {index_name(version, column, half=half)}")


def _as_list(vector: np.ndarray | Sequence[float] | None, dims: int, what: str) -> list[float] | None:
    if vector is None:
        return None
    arr = np.asarray(vector, dtype=np.float32).reshape(-1)
    if arr.shape[0] != dims:
        raise StorageError(f"{what} has {arr.shape[0]} dimensions; this model version stores {dims}.")
    if not np.all(np.isfinite(arr)):
        raise StorageError(f"{what} contains NaN or infinite values.")
    return arr.tolist()


def store_vectors(version: ModelVersion, rows: Iterable[VectorRow]) -> int:
    """Insert or update rows (one per product and version); returns how many were written."""
    dims = _require_dimensions(version)
    now = timezone.now()
    objs = []
    for row in rows:
        objs.append(
            ProductVector(
                version=version,
                product_key=row.key,
                embedding=_as_list(row.embedding, dims, f"Vector of product {row.key}"),
                image_embedding=_as_list(row.image_embedding, dims, f"Image vector of product {row.key}"),
                text_embedding=_as_list(row.text_embedding, dims, f"Text vector of product {row.key}"),
                content_hash=row.content_hash,
                status=row.status,
                error=row.error[:2000],
                title=row.title[:300],
                document=row.document,
                category=row.category[:200],
                price=row.price,
                in_stock=row.in_stock,
                sellable=row.sellable,
                updated_at=now,
            )
        )
    if not objs:
        return 0
    update_fields = [
        "embedding",
        "image_embedding",
        "text_embedding",
        "content_hash",
        "status",
        "error",
        "title",
        "document",
        "category",
        "price",
        "in_stock",
        "sellable",
        "updated_at",
    ]
    ProductVector.objects.bulk_create(
        objs, update_conflicts=True, unique_fields=["version", "product_key"], update_fields=update_fields
    )
    return len(objs)


# Columns of ProductVector that vector_rows may read beside the key and the vector.
ROW_FIELDS = ("title", "document", "category", "price", "in_stock", "sellable", "status", "content_hash")


def vector_rows(
    version: ModelVersion,
    keys: Iterable[str],
    fields: Sequence[str] = (),
    column: str | None = "embedding",
    *,
    with_vector_only: bool = True,
) -> dict[str, tuple]:
    """Product key -> (*fields, ``column`` vector as float32 or None) of ``keys`` in ``version``.
    ``column=None`` reads no vector (the last item is then always None).

    Read in PostgreSQL's binary format: parsing pgvector's text form costs ~0.15 ms a vector in
    Python, and a "for you" request reads a few hundred (measured: a third of its time).
    ``with_vector_only`` leaves out rows whose vector is null.
    """
    if column is not None and column not in VECTOR_COLUMNS:
        raise ValueError(f"Unknown vector column {column!r}")
    unknown = set(fields) - set(ROW_FIELDS)
    if unknown:
        raise ValueError(f"Unknown product vector fields {sorted(unknown)}")
    keys = list(set(keys))
    if not keys:
        return {}
    sql = (
        f"SELECT {', '.join(['product_key', *fields, column or 'NULL'])} FROM {ProductVector._meta.db_table} "
        "WHERE version_id = %s AND product_key = ANY(%s)"
        + (f" AND {column} IS NOT NULL" if column and with_vector_only else "")
    )
    rows = fetch_binary(sql, [version.pk, keys])
    return {row[0]: (*row[1:-1], decode_vector(row[-1])) for row in rows}


def fetch_binary(sql: str, params: Sequence[Any]) -> list[tuple]:
    """Rows of ``sql`` in PostgreSQL's binary format (pgvector columns as bytes: :func:`decode_vector`).

    Django's cursors bind on the client side, which has no binary results: a plain psycopg
    cursor on the same connection (and transaction) does; its errors become Django's, so a
    database outage is handled like any other query's (503 in the API, an empty slot on pages).
    """
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, list(params), binary=True)
        return cursor.fetchall()


def decode_vector(data: bytes | None) -> np.ndarray | None:
    """pgvector's binary form (vector_send): int16 dimensions, int16 unused, big-endian float4s."""
    return None if data is None else np.frombuffer(data, dtype=">f4", offset=4).astype(np.float32)


def fetch_vectors(version: ModelVersion, keys: Iterable[str], column: str = "embedding") -> dict[str, np.ndarray]:
    """Product key -> stored ``column`` vector (float32) of ``keys`` in ``version``; keys without one are absent."""
    return {key: row[-1] for key, row in vector_rows(version, keys, (), column).items()}


def delete_product_vectors(keys: Iterable[str]) -> int:
    """Remove every version's vectors of these products (they left the catalog)."""
    deleted, _ = ProductVector.objects.filter(product_key__in=list(keys)).delete()
    return deleted


def _where(version: ModelVersion, column: str, flt: VectorFilter) -> tuple[str, list]:
    clauses = ["version_id = %s", f"{column} IS NOT NULL"]
    params: list = [version.pk]
    if flt.in_stock:
        clauses.append("in_stock")
    if flt.sellable:
        clauses.append("sellable")
    if flt.categories:
        clauses.append("category = ANY(%s)")
        params.append(list(flt.categories))
    if flt.exclude_categories:
        clauses.append("NOT (category = ANY(%s))")
        params.append(list(flt.exclude_categories))
    if flt.min_price is not None:
        clauses.append("price >= %s")
        params.append(flt.min_price)
    if flt.max_price is not None:
        clauses.append("price <= %s")
        params.append(flt.max_price)
    if flt.exclude_keys:
        clauses.append("NOT (product_key = ANY(%s))")
        params.append(list(flt.exclude_keys))
    if flt.only_keys is not None:
        clauses.append("product_key = ANY(%s)")
        params.append(list(flt.only_keys))
    return " AND ".join(clauses), params


def fetch_with_settings(sql: str, params: Sequence[Any], settings: Mapping[str, str]) -> list[tuple]:
    """The rows of ``sql`` run with transaction-local ``settings`` (e.g. :func:`hnsw_settings`).

    One round trip: the settings and the statement go as one message, which Postgres runs as one
    implicit transaction in autocommit (BEGIN, set_config, query, COMMIT were four). With
    server-side binding (one statement per message) they go in a transaction of their own.
    """
    if not settings:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    prefix = "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings)
    prefix_params = [value for pair in settings.items() for value in pair]
    if server_side_binding():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(prefix, prefix_params)
            cursor.execute(sql, params)
            return cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(prefix + "; " + sql, [*prefix_params, *params])  # two statements, one message
        cursor.nextset()
        return cursor.fetchall()


def hnsw_settings(ef_search: int | None = None) -> dict[str, str]:
    """The pgvector settings an index scan runs with (``SET LOCAL``/``set_config(..., true)``
    values); ``ef_search`` in place of ``HNSW_EF_SEARCH`` when given."""
    out = {"hnsw.ef_search": str(int(ef_search or app_settings.HNSW_EF_SEARCH))}
    if app_settings.HNSW_ITERATIVE_SCAN:
        out["hnsw.iterative_scan"] = str(app_settings.HNSW_ITERATIVE_SCAN)
    return out


def nearest_statement(
    vector: np.ndarray | Sequence[float],
    *,
    version: ModelVersion,
    k: int = 10,
    column: str = "embedding",
    filters: VectorFilter | None = None,
) -> tuple[str, list]:
    """The SQL of :func:`nearest` (rows: product_key, similarity; nearest first), for callers that
    send it inside a larger statement with :func:`hnsw_settings` applied."""
    if column not in VECTOR_COLUMNS:
        raise ValueError(f"Unknown vector column {column!r}")
    vtype = _vector_type(_require_dimensions(version))
    literal = vector_literal(_as_list(vector, int(version.dimensions), "The query vector"))
    where, params = _where(version, column, filters or VectorFilter())
    table = ProductVector._meta.db_table
    # The distance is ordered by its alias (the index still serves it), so the 384-number literal
    # is sent and parsed once rather than twice.
    sql = (
        f"SELECT product_key, 1 - distance AS similarity FROM (SELECT product_key, "
        f"{column}::{vtype} <=> %s::{vtype} AS distance FROM {table} "
        f"WHERE {where} ORDER BY distance LIMIT %s) AS nearest"
    )
    return sql, [literal, *params, int(k)]


def vector_literal(values: Sequence[float]) -> str:
    """pgvector's text form of ``values`` (7 significant digits: float32 precision)."""
    return "[" + ",".join(f"{x:.7g}" for x in values) + "]"


def nearest(
    vector: np.ndarray | Sequence[float],
    *,
    version: ModelVersion | None = None,
    k: int = 10,
    column: str = "embedding",
    filters: VectorFilter | None = None,
    exact: bool = False,
) -> list[tuple[str, float]]:
    """The ``k`` products closest to ``vector`` (cosine), as (key, similarity) best first.

    ``exact=True`` skips the index (a sequential scan): the ground truth for recall tests.
    """
    version = version or ModelVersion.objects.active(ModelVersion.Kind.ENCODER)
    if version is None:
        return []
    sql, params = nearest_statement(vector, version=version, k=k, column=column, filters=filters)
    settings = {"enable_indexscan": "off"} if exact else hnsw_settings()
    rows = [(key, float(sim)) for key, sim in fetch_with_settings(sql, params, settings)]
    # relaxed_order iterative scans may return neighbours slightly out of order.
    return sorted(rows, key=lambda row: -row[1])


def nearest_blend(
    parts: Sequence[tuple[str, np.ndarray | Sequence[float], float]],
    *,
    version: ModelVersion | None = None,
    k: int = 10,
    filters: VectorFilter | None = None,
    candidates: int | None = None,
) -> list[tuple[str, float]]:
    """The ``k`` products with the highest weighted mean of cosine similarities over several columns.

    ``parts`` are ``(column, query vector, weight)``, e.g. ``[("image_embedding", img, 0.5),
    ("text_embedding", txt, 0.5)]``: "looks like" and "is described like" at once, which no
    single stored vector gives (a fused vector mixes in image-to-text cross terms). One SQL
    statement: each column's HNSW index proposes ``candidates`` neighbours (default
    ``max(k, HNSW_EF_SEARCH)``: an HNSW scan visits that many anyway), then their union is
    scored exactly. A product lacking one of the vectors is scored on the ones it has.
    """
    version = version or ModelVersion.objects.active(ModelVersion.Kind.ENCODER)
    if version is None or not parts:
        return []
    dims = _require_dimensions(version)
    vtype = _vector_type(dims)
    flt = filters or VectorFilter()
    table = ProductVector._meta.db_table
    fetch = int(candidates or max(k, int(app_settings.HNSW_EF_SEARCH)))
    proposals, proposal_params, scores, score_params, present, present_params = [], [], [], [], [], []
    for column, vector, weight in parts:
        if column not in VECTOR_COLUMNS:
            raise ValueError(f"Unknown vector column {column!r}")
        weight = float(weight)
        if not (np.isfinite(weight) and weight >= 0):
            raise ValueError(f"The weight of {column} must be a finite number >= 0, not {weight!r}.")
        values = _as_list(vector, dims, f"The {column} query vector")
        literal = "[" + ",".join(f"{x:.7g}" for x in values) + "]"
        where, params = _where(version, column, flt)
        proposals.append(f"(SELECT id FROM {table} WHERE {where} ORDER BY {column}::{vtype} <=> %s::{vtype} LIMIT %s)")
        proposal_params += [*params, literal, fetch]
        scores.append(f"%s * COALESCE(1 - ({column}::{vtype} <=> %s::{vtype}), 0)")
        score_params += [weight, literal]
        present.append(f"CASE WHEN {column} IS NULL THEN 0 ELSE %s END")
        present_params.append(weight)
    sql = (
        f"SELECT product_key, ({' + '.join(scores)}) / NULLIF({' + '.join(present)}, 0) AS similarity "
        f"FROM {table} WHERE id IN ({' UNION '.join(proposals)}) ORDER BY similarity DESC NULLS LAST, product_key LIMIT %s"
    )
    params = [*score_params, *present_params, *proposal_params, int(k)]
    rows = fetch_with_settings(sql, params, hnsw_settings(max(int(app_settings.HNSW_EF_SEARCH), fetch)))
    return [(key, float(sim)) for key, sim in rows if sim is not None]
