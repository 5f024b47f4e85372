"""Nearest-neighbour queries in pgvector at catalogue scale: HNSW vs exact, recall and latency.

    python bench/ann_bench.py --n 100000 --dims 512                  # ~5 min on 2 cores
    python bench/ann_bench.py --n 1000000 --dims 512 --phase build   # ~1 h: data, truth, indexes
    python bench/ann_bench.py --n 1000000 --dims 512 --phase query   # minutes, on a quiet machine

Uses the app's storage layout and query shape (dimensionless ``vector`` column, partial HNSW
expression index per model version, ``embedding::vector(d) <=> q``) on an embedded Postgres
in ``var/bench-ann``. The vectors are *hard* clustered data (many overlapping clusters), since
HNSW recall on uniform random vectors says nothing. For each index variant and ``ef_search``
it measures recall@10 against an exact scan of the same query, p50/p95 latency, and a 10 %
selective filtered query (category) that must still return k rows (iterative scans).

Variants: ``vector`` HNSW; ``halfvec`` HNSW (half the memory); binary quantisation
(``binary_quantize(v)::bit(d)`` HNSW on Hamming distance) with exact re-ranking of the top
``rerank`` candidates. Vectors are stored inline (``STORAGE MAIN``, as the app's migration 0006
does; ``--storage extended`` measures Postgres' TOAST default). What a build leaves (table,
ground truth, one index per variant) is reused by later runs with the same parameters. Writes bench/results/ann_<n>_spread<s>.json, .md and a PNG trade-off curve.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
K = 10
CATEGORIES = 10  # 10 % selectivity per category


def clustered(n: int, centres: np.ndarray, spread: float, seed: int) -> np.ndarray:
    """``n`` unit vectors around ``centres`` (queries use another seed: near, never equal, to items)."""
    rng = np.random.default_rng(seed)
    dims = centres.shape[1]
    labels = rng.integers(0, len(centres), size=n)
    out = np.empty((n, dims), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        block = centres[labels[start:stop]] + spread * rng.normal(size=(stop - start, dims)).astype(np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def connect(data_dir: Path, shared_buffers: str = ""):
    """A connection to the embedded server, restarted first when ``shared_buffers`` must change."""
    import psycopg
    from pgvector.psycopg import register_vector

    sys.path.insert(0, str(ROOT))
    from recommender.embedded import start_embedded, stop_embedded

    cfg = start_embedded(data_dir, "ann")
    conn = psycopg.connect(dbname=cfg["NAME"], user=cfg["USER"], host=cfg["HOST"], autocommit=True)
    if shared_buffers and conn.execute("SHOW shared_buffers").fetchone()[0] != shared_buffers:
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
        conn.close()
        stop_embedded(data_dir, force=True)
        cfg = start_embedded(data_dir, "ann")
        conn = psycopg.connect(dbname=cfg["NAME"], user=cfg["USER"], host=cfg["HOST"], autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    return conn


def load(conn, table: str, vectors: np.ndarray, cats: np.ndarray, storage: str) -> float:
    """Fill ``table``; ``storage`` main keeps vectors inline as the app's migration 0006 does."""
    from pgvector import Vector

    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(
        f"CREATE TABLE {table} (id bigserial PRIMARY KEY, version_id int NOT NULL, product_key text NOT NULL, "
        "embedding vector, category text NOT NULL, in_stock bool NOT NULL DEFAULT true)"
    )
    conn.execute(f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE {storage.upper()}")
    t0 = time.perf_counter()
    with conn.cursor().copy(
        f"COPY {table} (version_id, product_key, embedding, category) FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int4", "text", "vector", "text"])
        for i, vec in enumerate(vectors):
            copy.write_row((1, str(i), Vector(vec), f"c{cats[i]}"))
    conn.execute(f"ANALYZE {table}")
    return time.perf_counter() - t0


def build_index(conn, table: str, variant: str, dims: int, m: int, ef_construction: int) -> float:
    conn.execute(f"DROP INDEX IF EXISTS {table}_hnsw_{variant}")
    expr = {
        "vector": f"(embedding::vector({dims})) vector_cosine_ops",
        "halfvec": f"(embedding::halfvec({dims})) halfvec_cosine_ops",
        "binary": f"(binary_quantize(embedding)::bit({dims})) bit_hamming_ops",
    }[variant]
    conn.execute("SET maintenance_work_mem = '4GB'")
    conn.execute(f"SET max_parallel_maintenance_workers = {max(1, (os.cpu_count() or 2) - 1)}")
    t0 = time.perf_counter()
    conn.execute(
        f"CREATE INDEX {table}_hnsw_{variant} ON {table} USING hnsw ({expr}) WITH (m = {m}, ef_construction = {ef_construction}) "
        "WHERE version_id = 1"
    )
    return time.perf_counter() - t0


def query_sql(table: str, variant: str, dims: int, where: str, rerank: int) -> str:
    if variant == "binary":
        return (
            f"SELECT product_key FROM (SELECT product_key, embedding FROM {table} WHERE version_id = 1 {where} "
            f"ORDER BY binary_quantize(embedding)::bit({dims}) <~> binary_quantize(%(q)s::vector({dims})) LIMIT {rerank}) c "
            f"ORDER BY embedding::vector({dims}) <=> %(q)s::vector({dims}) LIMIT {K}"
        )
    cast = "halfvec" if variant == "halfvec" else "vector"
    return (
        f"SELECT product_key FROM {table} WHERE version_id = 1 {where} "
        f"ORDER BY embedding::{cast}({dims}) <=> %(q)s::{cast}({dims}) LIMIT {K}"
    )


def exact(conn, table: str, queries: np.ndarray, dims: int, where: str = "") -> list[set[str]]:
    conn.execute("SET enable_indexscan = off")
    sql = query_sql(table, "vector", dims, where, 0)
    truth = [{r[0] for r in conn.execute(sql, {"q": q}).fetchall()} for q in queries]
    conn.execute("SET enable_indexscan = on")
    return truth


def timed(conn, sql: str, queries: np.ndarray) -> tuple[list[set[str]], list[float], list[int]]:
    results, times, counts = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        rows = conn.execute(sql, {"q": q}).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
        results.append({r[0] for r in rows})
        counts.append(len(rows))
    return results, times, counts


def recall(found: list[set[str]], truth: list[set[str]]) -> float:
    return float(np.mean([len(f & t) / max(len(t), 1) for f, t in zip(found, truth, strict=True)]))


def prepared(conn, table: str, params: dict) -> dict | None:
    """The stored state of an earlier run with the same data parameters (table, truth, built indexes)."""
    conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (name text PRIMARY KEY, params jsonb, state jsonb)")
    row = conn.execute("SELECT params, state FROM bench_meta WHERE name = %s", (table,)).fetchone()
    return row[1] if row and row[0] == params else None


def save_state(conn, table: str, params: dict, state: dict) -> None:
    conn.execute(
        "INSERT INTO bench_meta VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE SET params = EXCLUDED.params, "
        "state = EXCLUDED.state",
        (table, json.dumps(params), json.dumps(state)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--clusters", type=int, default=None, help="default: n / 100")
    parser.add_argument("--spread", type=float, default=1.0, help="noise around centres (1.0 = hard, overlapping)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=64)
    parser.add_argument("--ef-search", default="40,100,200,400")
    parser.add_argument("--variants", default="vector,halfvec,binary")
    parser.add_argument("--rerank", type=int, default=200)
    parser.add_argument(
        "--name-params", action="store_true", help="put m and ef_construction in the result file names, even 16/64"
    )
    parser.add_argument(
        "--storage",
        default="main",
        choices=["main", "extended"],
        help="column storage: main (the app's, inline) or extended (Postgres' default, TOAST)",
    )
    parser.add_argument(
        "--shared-buffers",
        default="",
        help="e.g. 4GB: restart the server so the index being queried fits Postgres' buffers",
    )
    parser.add_argument(
        "--phase",
        default="all",
        choices=["all", "build", "query"],
        help="build: load, ground truth and indexes (long, may share the CPU); "
        "query: time queries on what build left (run it on a quiet machine)",
    )
    args = parser.parse_args()
    efs = [int(x) for x in args.ef_search.split(",")]
    variants = args.variants.split(",")
    clusters = args.clusters or max(10, args.n // 100)
    params = {
        "n": args.n,
        "dims": args.dims,
        "clusters": clusters,
        "spread": args.spread,
        "queries": args.queries,
        "storage": args.storage,
    }
    index_params = {"m": args.m, "ef_construction": args.ef_construction}
    table = f"items_{args.n}_{args.dims}_s{round(args.spread * 10)}_{args.storage}"  # one per data set: runs coexist

    centres = np.random.default_rng(0).normal(size=(clusters, args.dims)).astype(np.float32)
    queries = clustered(args.queries, centres, args.spread, seed=3)
    conn = connect(ROOT / "var" / "bench-ann", args.shared_buffers)
    filtered_where = "AND category = 'c3'"
    state = prepared(conn, table, params)
    if state is None:
        if args.phase == "query":
            sys.exit("Nothing prepared for these parameters: run with --phase build first.")
        vectors = clustered(args.n, centres, args.spread, seed=1)
        cats = np.random.default_rng(2).integers(0, CATEGORIES, size=args.n)
        load_s = load(conn, table, vectors, cats, args.storage)
        del vectors
        print(f"loaded {args.n} x {args.dims} in {load_s:.0f}s", flush=True)
        truth = exact(conn, table, queries, args.dims)
        truth_f = exact(conn, table, queries, args.dims, filtered_where)
        state = {
            "load_seconds": round(load_s, 1),
            "truth": [sorted(t) for t in truth],
            "truth_filtered": [sorted(t) for t in truth_f],
            "indexes": {},
        }
        save_state(conn, table, params, state)
    for variant in variants:
        built = state["indexes"].get(variant)
        if built and built["params"] == index_params:
            continue
        if args.phase == "query":
            sys.exit(f"No {variant} index with {index_params}: run with --phase build first.")
        build_s = build_index(conn, table, variant, args.dims, args.m, args.ef_construction)
        size = conn.execute(f"SELECT pg_relation_size('{table}_hnsw_{variant}')").fetchone()[0]
        print(f"{variant}: index built in {build_s:.0f}s ({size / 2**20:.0f} MiB)", flush=True)
        state["indexes"][variant] = {
            "params": index_params,
            "build_seconds": round(build_s, 1),
            "index_mib": round(size / 2**20),
        }
        save_state(conn, table, params, state)
    if args.phase == "build":
        conn.close()
        return

    truth = [set(t) for t in state["truth"]]
    truth_f = [set(t) for t in state["truth_filtered"]]
    conn.execute("SET enable_indexscan = off")
    _, exact_times, _ = timed(conn, query_sql(table, "vector", args.dims, "", 0), queries[:50])
    conn.execute("SET enable_indexscan = on")
    runs = []
    # Steady state, not a cold disk: read the table and every index into the OS page cache first
    # (a 1M x 512-d HNSW index is 2.6 GB; without this the first hundreds of queries wait on disk).
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    for relation in [table, *(f"{table}_hnsw_{v}" for v in variants)]:
        conn.execute("SELECT pg_prewarm(%s::regclass, 'read')", (relation,))
    shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    for variant in variants:
        built = state["indexes"][variant]
        conn.execute("SELECT pg_prewarm(%s::regclass, 'buffer')", (f"{table}_hnsw_{variant}",))  # as much as fits
        timed(conn, query_sql(table, variant, args.dims, "", args.rerank), queries[:50])  # warm the index pages
        for ef in efs:
            conn.execute(f"SET hnsw.ef_search = {ef}")
            conn.execute("SET hnsw.iterative_scan = relaxed_order")
            found, times, _ = timed(conn, query_sql(table, variant, args.dims, "", args.rerank), queries)
            found_f, times_f, counts_f = timed(
                conn, query_sql(table, variant, args.dims, filtered_where, args.rerank), queries
            )
            run = {
                "variant": variant,
                "ef_search": ef,
                "build_seconds": built["build_seconds"],
                "index_mib": built["index_mib"],
                "recall_at_10": round(recall(found, truth), 4),
                "p50_ms": round(float(np.percentile(times, 50)), 2),
                "p95_ms": round(float(np.percentile(times, 95)), 2),
                "filtered_recall_at_10": round(recall(found_f, truth_f), 4),
                "filtered_p95_ms": round(float(np.percentile(times_f, 95)), 2),
                "filtered_min_rows": int(min(counts_f)),
            }
            runs.append(run)
            print(json.dumps(run), flush=True)
    result = {
        **params,
        **index_params,
        "rerank": args.rerank,
        "name_params": args.name_params,
        "load_seconds": state["load_seconds"],
        "exact_p50_ms": round(float(np.percentile(exact_times, 50)), 2),
        "exact_p95_ms": round(float(np.percentile(exact_times, 95)), 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "shared_buffers": shared_buffers,
        "runs": runs,
    }
    write(result)
    conn.close()
    from recommender.embedded import stop_embedded

    stop_embedded(ROOT / "var" / "bench-ann")


def write(result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"ann_{result['n']}_spread{result['spread']:g}"
    if (result["m"], result["ef_construction"]) != (16, 64) or result.get("name_params"):
        stem = RESULTS / f"{stem.name}_m{result['m']}_efc{result['ef_construction']}"  # pgvector's defaults: old names
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2))
    lines = [
        (
            f"# pgvector nearest neighbours: {result['n']:,} x {result['dims']}-d, {result['clusters']} clusters "
            f"(spread {result['spread']}), {result['queries']} queries, {result['machine']}, vector storage {result['storage']}"
        ),
        "",
        (
            f"Exact scan: p50 {result['exact_p50_ms']} ms, p95 {result['exact_p95_ms']} ms. "
            f"HNSW m={result['m']}, ef_construction={result['ef_construction']}; binary re-ranks top {result['rerank']}; "
            f"shared_buffers {result.get('shared_buffers', '128MB')}."
        ),
        "",
        "| variant | ef_search | recall@10 | p50 ms | p95 ms | filtered 10 % recall@10 | filtered p95 ms | filtered min rows | build s | index MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['variant']} | {r['ef_search']} | {r['recall_at_10']} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['filtered_recall_at_10']} | {r['filtered_p95_ms']} | {r['filtered_min_rows']} | {r['build_seconds']} | {r['index_mib']} |"
        )
    lines += ["", f"![recall@10 against p95 latency]({stem.name}.png)"]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for variant in sorted({r["variant"] for r in result["runs"]}):
        rows = [r for r in result["runs"] if r["variant"] == variant]
        ax.plot([r["p95_ms"] for r in rows], [r["recall_at_10"] for r in rows], marker="o", label=variant)
        for r in rows:
            ax.annotate(
                str(r["ef_search"]),
                (r["p95_ms"], r["recall_at_10"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.axvline(result["exact_p95_ms"], color="grey", linestyle=":", label="exact scan p95")
    ax.set_xscale("log")
    ax.set_xlabel("p95 latency (ms, log)")
    ax.set_ylabel("recall@10")
    ax.set_title(f"pgvector HNSW, {result['n']:,} x {result['dims']}-d (labels: ef_search)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=120)


if __name__ == "__main__":
    main()
