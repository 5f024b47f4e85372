"""Latency of every REST API endpoint on a demo-sized catalog, measured in-process.

    python bench/api_latency.py [--products 5000] [--events 20000] [--requests 200] [--seed 0]

Runs the demo shop's settings (string product keys, eager tasks, local-memory cache) on its own
embedded Postgres in ``var/bench-api`` (``DATABASE_URL`` wins when set; its tables are emptied).
It builds a catalog of random products with clustered 384-d unit vectors (an active encoder
version with the usual HNSW indexes) and synthetic shopping visits (views, clicks, baskets of
purchases), warms up, then times each endpoint with Django's test client in the same process:
URL routing, middleware, sessions, DRF, ``recommend()`` and real SQL are all measured; an HTTP
server, the network and client-side JSON parsing are not. The test client keeps one database
connection, like a server with ``CONN_MAX_AGE > 0``.

Two passes over the GET endpoints: results cache off (every request runs its strategy: the
cost of a miss) and on (the default 300 s; after one warm-up request per URL, the cost of a
hit). Events are posted with the throttle in place (rate raised so nothing is refused); with
no broker the profile update runs eagerly inside the request, as in the demo.
Writes ``bench/results/api_latency.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DIMENSIONS = 384
CLUSTERS = 50
CATEGORIES = 20
USERS = 200
SESSIONS = 800
MEASURED_SHOPPERS = 20
PRODUCT_PAGE = "GET product page (4 slot tags)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint and pass")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ.update(
        DJANGO_SETTINGS_MODULE="shopdemo.settings", SHOPDEMO_DATA_DIR=str(ROOT / "var" / "bench-api"), DJANGO_DEBUG="0"
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    import logging

    import django

    django.setup()
    logging.getLogger().setLevel(logging.WARNING)  # the demo logs INFO; keep the output readable
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    data = build_data(args.products, args.events, args.seed)
    build_seconds = time.perf_counter() - t0
    print(f"catalog and events ready in {build_seconds:.1f} s: {data['summary']}")

    results = measure(data, args.requests, args.seed)
    behaviour_rows, behaviour = measure_behaviour(data, args.requests)
    results += behaviour_rows
    report = {
        "what": "p50/p95 latency of each REST API endpoint, Django test client in-process",
        "catalog": data["summary"],
        "requests_per_endpoint": args.requests,
        "build_seconds": round(build_seconds, 1),
        "environment": environment(),
        "behaviour": behaviour,
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "api_latency.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "api_latency.md").write_text(markdown(report))
    plot(report, RESULTS / "api_latency.png")
    print((RESULTS / "api_latency.md").read_text())


# --- data ------------------------------------------------------------------------------------


def build_data(n_products: int, n_events: int, seed: int) -> dict:
    """Empty the tables, then create products, their vectors and synthetic visits."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from recommender.models import Event, EventType, ModelVersion, ProductVector, Profile, SlotStat
    from recommender.storage import VectorRow, ensure_indexes, store_vectors
    from shopdemo.catalog.models import Order, OrderLine, Product

    rng = np.random.default_rng(seed)
    tables = [
        m._meta.db_table for m in (OrderLine, Order, Product, Event, Profile, ProductVector, SlotStat, ModelVersion)
    ]
    with connection.cursor() as cursor:  # TRUNCATE: a delete() would queue one task per product
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    get_user_model().objects.filter(username__startswith="bench-").delete()

    centres = rng.normal(size=(CLUSTERS, DIMENSIONS))
    labels = rng.integers(0, CLUSTERS, size=n_products)
    vectors = centres[labels] + 0.6 * rng.normal(size=(n_products, DIMENSIONS))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    products = [
        Product(
            id=f"B{i:05d}",
            name=f"Product {i} of cluster {labels[i]}",
            category=f"category-{labels[i] % CATEGORIES:02d}",
            price=round(float(rng.uniform(5, 200)), 2),
            stock=int(rng.integers(0, 20) > 0) * 10,
        )
        for i in range(n_products)
    ]
    Product.objects.bulk_create(products, batch_size=1000)  # bulk: no post_save, no embedding tasks
    version = ModelVersion.objects.create(
        kind=ModelVersion.Kind.ENCODER,
        name="bench-random-384",
        dimensions=DIMENSIONS,
        state=ModelVersion.State.ACTIVE,
        config={"MODEL": "bench"},
        activated_at=timezone.now(),
    )
    rows = [
        VectorRow(
            key=p.id,
            embedding=v,
            image_embedding=v,
            text_embedding=v,
            title=p.name,
            category=p.category,
            price=p.price,
            in_stock=p.stock > 0,
        )
        for p, v in zip(products, vectors)
    ]
    for start in range(0, len(rows), 1000):
        store_vectors(version, rows[start : start + 1000])
    ensure_indexes(version)

    users = get_user_model().objects.bulk_create([get_user_model()(username=f"bench-{i}") for i in range(USERS)])
    by_cluster = [np.flatnonzero(labels == c) for c in range(CLUSTERS)]
    events = synthetic_events(rng, products, by_cluster, users, n_events, timezone.now())
    Event.objects.bulk_create(events, batch_size=2000)
    counts = {t: sum(1 for e in events if e.type == t) for t in EventType.values}
    return {
        "products": products,
        "users": users[:MEASURED_SHOPPERS],
        "summary": {
            "products": n_products,
            "dimensions": DIMENSIONS,
            "clusters": CLUSTERS,
            "categories": CATEGORIES,
            "events": len(events),
            "events_by_type": counts,
            "users": USERS,
            "anonymous_sessions": SESSIONS,
        },
        # Product pages people actually open: the most bought and most viewed products.
        "purchased": most_common(e.product_key for e in events if e.type == EventType.PURCHASE),
        "viewed": most_common(e.product_key for e in events if e.type == EventType.VIEW),
    }


def most_common(keys, n: int = 1000) -> list[str]:
    from collections import Counter

    return [key for key, _ in Counter(keys).most_common(n)]


def synthetic_events(rng, products, by_cluster, users, n_events, now) -> list:
    """Visits of shoppers with a favourite cluster: views of popular products, some baskets."""
    from recommender.models import Event

    shoppers = [("user", u) for u in users] + [("session", f"bench-session-{i}") for i in range(SESSIONS)]
    events: list = []
    while len(events) < n_events:
        kind, who = shoppers[int(rng.integers(len(shoppers)))]
        owner = {"user": who, "session_key": ""} if kind == "user" else {"user": None, "session_key": who}
        cluster = by_cluster[int(rng.integers(len(by_cluster)))]
        # Zipf-like popularity inside a cluster, so co-occurrence has support.
        weights = 1.0 / np.arange(1, len(cluster) + 1)
        at = now - timedelta(days=float(rng.uniform(0, 14)))
        viewed = rng.choice(
            cluster, size=min(int(rng.integers(3, 9)), len(cluster)), replace=False, p=weights / weights.sum()
        )
        for j, index in enumerate(viewed):
            events.append(
                Event(
                    type="view",
                    product_key=products[index].id,
                    created_at=at + timedelta(minutes=j),
                    processed=True,
                    **owner,
                )
            )
        if rng.random() < 0.25:
            # Baskets come from the cluster's bestsellers (its 10 most popular products).
            top = min(10, len(cluster))
            basket = rng.choice(
                cluster[:top],
                size=min(int(rng.integers(1, 4)), top),
                replace=False,
                p=weights[:top] / weights[:top].sum(),
            )
            for j, index in enumerate(basket):
                for type_ in ("add_to_cart", "purchase"):
                    events.append(
                        Event(
                            type=type_,
                            product_key=products[index].id,
                            created_at=at + timedelta(minutes=20 + j),
                            processed=True,
                            **owner,
                        )
                    )
    return events[:n_events]


# --- measuring -------------------------------------------------------------------------------


def measure(data: dict, n_requests: int, seed: int) -> list[dict]:
    from django.test import Client, override_settings
    from django.urls import reverse

    from recommender.models import RecommenderSettings

    rng = random.Random(seed)
    anonymous = Client(HTTP_HOST="localhost")
    shoppers = []
    for user in data["users"]:
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        shoppers.append(client)
    keys = [p.id for p in data["products"]]

    def product_urls(name: str, pool: list[str]) -> list[str]:
        picks = rng.sample(pool, min(n_requests, len(pool)))
        return [reverse(f"recommender_api:{name}", args=[k]) for k in (picks * n_requests)[:n_requests]]

    top = max(n_requests, 1)

    plans: dict[str, list[tuple[Client, str]]] = {
        "GET similar/<id>/": [(anonymous, u) for u in product_urls("similar", keys)],
        "GET bought-together/<id>/": [(anonymous, u) for u in product_urls("bought-together", data["purchased"][:top])],
        "GET also-viewed/<id>/": [(anonymous, u) for u in product_urls("also-viewed", data["viewed"][:top])],
        "GET trending/": [(anonymous, reverse("recommender_api:trending"))] * n_requests,
        "GET for-you/": [(shoppers[i % len(shoppers)], reverse("recommender_api:for-you")) for i in range(n_requests)],
        "GET recently-viewed/": [
            (shoppers[i % len(shoppers)], reverse("recommender_api:recently-viewed")) for i in range(n_requests)
        ],
        # The demo's product page: {% record_view %} and four slot tags (similar, bought together,
        # also viewed, recently viewed), as a logged-in shopper with history sees it.
        PRODUCT_PAGE: [
            (shoppers[i % len(shoppers)], reverse("shop:product", args=[k]))
            for i, k in enumerate(rng.choices(data["purchased"][:top], k=n_requests))
        ],
    }
    results = []
    settings = RecommenderSettings.get()
    for cache_seconds, label in ((0, "off"), (300, "on")):
        settings.cache_seconds = cache_seconds
        settings.save()
        for endpoint, plan in plans.items():
            warm = plan if cache_seconds else plan[:20]  # with the cache on, every URL once: then all are hits
            count = count_cards if endpoint == PRODUCT_PAGE else count_results
            results.append(timed(endpoint, label, plan, warm, lambda client, url: client.get(url), count=count))
            print(f"  {results[-1]}")

    events_url = reverse("recommender_api:events")

    def post(client, key):
        return client.post(events_url, {"type": "view", "product_id": key}, content_type="application/json")

    event_plan = [(shoppers[i % len(shoppers)], rng.choice(keys)) for i in range(n_requests)]
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"recommender-events": "1000000/min"}}):
        results.append(timed("POST events/", "n/a", event_plan, event_plan[:20], post, expect=201, count=lambda r: 0))
    print(f"  {results[-1]}")
    return results


def measure_behaviour(data: dict, n_requests: int) -> tuple[list[dict], dict]:
    """``GET for-you/`` again once a behaviour model serves: the shopper's state, pgvector over the
    version's product output vectors, and the co-occurrence (and repurchase) blend."""
    from django.test import Client
    from django.urls import reverse

    from recommender.behaviour.serving import behaviour_query
    from recommender.models import RecommenderSettings
    from recommender.training.behaviour.train import train_behaviour

    t0 = time.perf_counter()
    version = train_behaviour(overrides={"epochs": 5, "torch_threads": 1}, activate=True)
    info = {
        "training_and_activation_seconds": round(time.perf_counter() - t0, 1),
        "epochs": 5,
        "valid_ndcg@10": round(version.metrics["valid"].get("ndcg@10", 0.0), 4),
        "cooccurrence_weight": version.metrics.get("cooccurrence_weight"),
        "repurchase_weight": version.metrics.get("repurchase_weight"),
        "shoppers_served_by_the_model": sum(behaviour_query(u.pk) is not None for u in data["users"]),
        "shoppers": len(data["users"]),
    }
    shoppers = []
    for user in data["users"]:
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        shoppers.append(client)
    plan = [(shoppers[i % len(shoppers)], reverse("recommender_api:for-you")) for i in range(n_requests)]
    results = []
    settings = RecommenderSettings.get()
    for cache_seconds, label in ((0, "off"), (300, "on")):
        settings.cache_seconds = cache_seconds
        settings.save()
        warm = plan if cache_seconds else plan[:20]
        results.append(timed("GET for-you/ (behaviour model)", label, plan, warm, lambda c, url: c.get(url)))
        print(f"  {results[-1]}")
    return results, info


def count_results(response) -> int:
    return len(response.json().get("results", []))


def count_cards(response) -> int:
    """Recommendations rendered on a page (every slot card carries data-rec-product)."""
    return response.content.count(b"data-rec-product=")


def timed(
    endpoint: str,
    cache: str,
    plan: list,
    warm: list,
    call: Callable,
    expect: int = 200,
    count: Callable = count_results,
) -> dict:
    for client, arg in warm:
        call(client, arg)
    times, sizes = [], []
    for client, arg in plan:
        t0 = time.perf_counter()
        response = call(client, arg)
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code != expect:
            raise SystemExit(f"{endpoint} {arg}: HTTP {response.status_code} {response.content[:300]!r}")
        sizes.append(count(response))
    times.sort()
    return {
        "endpoint": endpoint,
        "cache": cache,
        "requests": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "mean_ms": round(statistics.fmean(times), 2),
        "max_ms": round(times[-1], 2),
        "mean_results": round(statistics.fmean(sizes), 1),
    }


# --- report ----------------------------------------------------------------------------------


def environment() -> dict:
    import django
    import rest_framework
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), (SELECT extversion FROM pg_extension WHERE extname = 'vector')")
        postgres, pgvector = cursor.fetchone()
    return {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "djangorestframework": rest_framework.VERSION,
        "postgres": postgres.split(" on ")[0],
        "pgvector": pgvector,
        "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded (var/bench-api)",
    }


def plot(report: dict, path: Path) -> None:
    """Horizontal bars: p50 and p95 of each endpoint, results cache off and on."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["results"]
    labels = [f"{r['endpoint']} (cache {r['cache']})" for r in rows]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(rows) + 1.2))
    ax.barh(y + 0.2, [r["p95_ms"] for r in rows], height=0.4, label="p95", color="#d9822b")
    ax.barh(y - 0.2, [r["p50_ms"] for r in rows], height=0.4, label="p50", color="#2b6cb0")
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms (in-process, Django test client)")
    ax.set_title(f"REST API and product page latency, {report['catalog']['products']:,} products")
    ax.grid(axis="x", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(report: dict) -> str:
    env, cat = report["environment"], report["catalog"]
    kinds = ", ".join(f"{k} {v:,}" for k, v in cat["events_by_type"].items() if v)
    data = (
        f"`python bench/api_latency.py`: {cat['products']:,} products ({cat['dimensions']}-d clustered random "
        f"vectors, HNSW), {cat['events']:,} synthetic events ({kinds}); {report['requests_per_endpoint']} timed "
        "requests per endpoint and pass, after a warm-up."
    )
    method = (
        "Measured with Django's test client in the same process: routing, middleware, sessions, DRF, "
        "`recommend()` and real SQL on Postgres + pgvector; no HTTP server, network or client JSON parsing. "
        "Cache off: every request runs its strategy (a miss). Cache on: the default 300 s results cache, "
        "every URL requested once before timing (hits). Events: the throttle runs (rate raised), the profile "
        "update runs eagerly in the request (no broker, as in the demo). Product endpoints cycle through "
        "random products (similar), the most bought (bought-together) and the most viewed (also-viewed); "
        f"for-you, recently-viewed and events rotate over {MEASURED_SHOPPERS} logged-in shoppers with history. "
        "The product page is the demo's template rendered whole for those shoppers (bestsellers): it records a "
        "view and renders similar, bought-together, also-viewed and recently-viewed slots; results/request "
        "counts the cards on the page. `for-you/` runs on the profile vector; `for-you/ (behaviour model)` runs "
        "after a behaviour model was trained on these events and activated: the shopper's state, pgvector over "
        "the version's product output vectors, and the co-occurrence/repurchase blend."
    )
    machine = (
        f"Machine: {env['cpu_count']} CPUs ({env['machine']}, shared with other work), Python {env['python']}, "
        f"Django {env['django']}, DRF {env['djangorestframework']}, {env['postgres']}, pgvector {env['pgvector']}, "
        f"database {env['database']}. Building the data took {report['build_seconds']} s."
    )
    lines = [
        "# REST API latency (in-process)",
        "",
        data,
        "",
        method,
        "",
        "| endpoint | results cache | p50 ms | p95 ms | mean ms | max ms | results/request |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        cells = [
            f"`{r['endpoint']}`",
            r["cache"],
            r["p50_ms"],
            r["p95_ms"],
            r["mean_ms"],
            r["max_ms"],
            r["mean_results"],
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if report.get("behaviour"):
        lines += ["", f"Behaviour model for the last rows: {report['behaviour']}."]
    lines += ["", "![latency by endpoint](api_latency.png)"]
    lines += ["", machine, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
