"""What the results cache saves: ``recommend()`` on a miss and on a hit, measured in-process.

    python bench/cache_hit_latency.py [--products 5000] [--events 20000] [--requests 300] [--seed 0]

Builds the same catalog and synthetic visits as ``bench/api_latency.py`` (its own embedded
Postgres in ``var/bench-cache``; ``DATABASE_URL`` wins when set, its tables are emptied), then
calls ``recommend()`` for similar, trending and "for you" (logged-in shoppers with history):
first with the cache off (every call computes: a miss), then on (after one warm-up call per
argument: every call is a hit). A hit still reads the generations and re-checks the cached
products' stock against the vector rows, so it is not free; this says how far from free.
Writes ``bench/results/cache_hit_latency.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=300, help="timed calls per strategy and pass")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", default="", help="a note stored with the result (e.g. the commit)")
    parser.add_argument("--output", default="cache_hit_latency", help="file name (no suffix) under bench/results")
    args = parser.parse_args()

    os.environ.update(
        DJANGO_SETTINGS_MODULE="shopdemo.settings",
        SHOPDEMO_DATA_DIR=str(ROOT / "var" / "bench-cache"),
        DJANGO_DEBUG="0",
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    import logging

    import django

    django.setup()
    logging.getLogger().setLevel(logging.WARNING)
    from django.core.management import call_command

    from bench.api_latency import build_data, environment

    call_command("migrate", verbosity=0)
    data = build_data(args.products, args.events, args.seed)
    print(f"catalog and events ready: {data['summary']}")
    load_before = [round(x, 2) for x in os.getloadavg()]
    results = measure(data, args.requests, args.seed)
    report = {
        "what": "recommend() latency, results cache off (miss) and on (hit), in-process",
        "label": args.label,
        "load_before": load_before,
        "catalog": data["summary"],
        "calls_per_strategy": args.requests,
        "environment": environment(),
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.output}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{args.output}.md").write_text(markdown(report))
    print((RESULTS / f"{args.output}.md").read_text())


def measure(data: dict, n: int, seed: int) -> list[dict]:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommender.models import RecommenderSettings
    from recommender.recommend import recommend

    rng = random.Random(seed)
    keys = [p.id for p in data["products"]]
    products = rng.sample(keys, min(n, len(keys)))
    users = data["users"]
    plans = {
        "similar": [{"product_key": products[i % len(products)]} for i in range(n)],
        "trending": [{}] * n,
        "for_you": [{"user": users[i % len(users)]} for i in range(n)],
    }
    results = []
    settings = RecommenderSettings.get()
    for seconds, label in ((0, "off (miss)"), (300, "on (hit)")):
        settings.cache_seconds = seconds
        settings.save()
        cache.clear()
        for strategy, plan in plans.items():
            for kwargs in plan:  # warm-up: with the cache on, every argument once
                recommend(strategy, limit=8, **kwargs)
            times, sizes = [], []
            for kwargs in plan:
                t0 = time.perf_counter()
                recs = recommend(strategy, limit=8, **kwargs)
                times.append((time.perf_counter() - t0) * 1000)
                sizes.append(len(recs))
            times.sort()
            with CaptureQueriesContext(connection) as queries:
                recommend(strategy, limit=8, **plan[0])
            row = {
                "strategy": strategy,
                "cache": label,
                "calls": len(times),
                "p50_ms": round(statistics.median(times), 3),
                "p95_ms": round(times[int(0.95 * (len(times) - 1))], 3),
                "mean_results": round(statistics.fmean(sizes), 1),
                "sql_queries_per_call": len(queries),
            }
            results.append(row)
            print(f"  {row}")
    return results


def markdown(report: dict) -> str:
    cat, env = report["catalog"], report["environment"]
    lines = [
        "# recommend() latency: results cache off (miss) and on (hit)",
        "",
        (
            f"`python bench/cache_hit_latency.py`: {cat['products']:,} products, {cat['events']:,} synthetic events; "
            f"{report['calls_per_strategy']} timed calls per strategy and pass, after a warm-up. {report['label']}"
        ),
        "",
        "| strategy | cache | p50 ms | p95 ms | results | SQL queries per call |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['strategy']} | {r['cache']} | {r['p50_ms']} | {r['p95_ms']} | {r['mean_results']} "
        f"| {r['sql_queries_per_call']} |"
        for r in report["results"]
    ]
    lines += [
        "",
        f"Load average before the run: {report['load_before']}.",
        f"{env['cpu_count']} CPUs, Python {env['python']}, {env['postgres']}, pgvector {env['pgvector']}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
