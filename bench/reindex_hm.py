"""End-to-end reindex of the H&M catalog through a real Celery worker, timed.

    python bench/reindex_hm.py --model var/models/catalog-clip-hm [--data ../shared/data/hm_fashion]

Runs the demo shop's settings on a separate embedded Postgres (``var/bench``), loads every
article, registers the trained catalog CLIP as the active encoder version, queues the reindex
on a filesystem broker, and times a ``celery -A tasks worker`` until every product has a
vector. Writes ``bench/results/reindex_hm.json`` and ``.md``, with a sanity query.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUERIES = ["black summer dress", "striped t-shirt", "blue denim jeans", "red knitted jumper"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "hm_fashion")
    parser.add_argument("--model", type=Path, default=ROOT / "var" / "models" / "catalog-clip-hm")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    if not (args.data / "articles.csv").exists():
        sys.exit(f"H&M data not found at {args.data}; pass --data (see shared/README.md).")
    if not (args.model / "open_clip_config.json").exists():
        sys.exit(f"No trained catalog CLIP at {args.model}; run bench/train_catalog_clip_hm.py first.")

    bench_dir = ROOT / "var" / "bench"
    broker_dir = Path(tempfile.mkdtemp(prefix="bench-broker-"))
    (broker_dir / "processed").mkdir()
    options = {
        "data_folder_in": str(broker_dir),
        "data_folder_out": str(broker_dir),
        "processed_folder": str(broker_dir / "processed"),
        "control_folder": str(broker_dir / "control"),
    }
    os.environ.update(
        DJANGO_SETTINGS_MODULE="shopdemo.settings",
        SHOPDEMO_DATA_DIR=str(bench_dir),
        CELERY_BROKER_URL="filesystem://",
        CELERY_BROKER_TRANSPORT_OPTIONS=json.dumps(options),
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from recommender.models import ModelVersion, ProductVector
    from recommender.storage import nearest
    from recommender.versions import activate, encoder_for, register_encoder_version
    from shopdemo.catalog.hm_import import load_articles
    from shopdemo.catalog.models import Product

    call_command("migrate", verbosity=0)
    ProductVector.objects.all().delete()
    ModelVersion.objects.all().delete()
    t0 = time.perf_counter()
    count = load_articles(args.data, limit=args.limit, progress=True)
    load_seconds = time.perf_counter() - t0

    version = activate(register_encoder_version({"MODEL": f"local-dir:{args.model.resolve()}"}, name="catalog-clip-hm"))

    log_path = bench_dir / "bench-worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tasks",
                "worker",
                "-l",
                "info",
                "--pool",
                "solo",
                "-Q",
                "celery,embeddings",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while "ready." not in log_path.read_text():
                time.sleep(0.2)
            from recommender.indexing import reindex

            start = time.perf_counter()
            reindex(version, batch_size=args.batch_size, run_async=True)
            done = 0
            while done < count:
                time.sleep(1)
                done = ProductVector.objects.filter(version=version).exclude(status="pending").count()
                print(f"\r{done}/{count} embedded", end="", flush=True)
            reindex_seconds = time.perf_counter() - start
            load_average = os.getloadavg()
            print()
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    failed = ProductVector.objects.filter(version=version, status="failed").count()
    no_image = ProductVector.objects.filter(version=version, image_embedding__isnull=True).count()
    encoder = encoder_for(version)
    sanity = {}
    for query in QUERIES:
        vec = encoder.encode_texts([query])[0]
        for column in ("text_embedding", "image_embedding", "embedding"):
            keys = [k for k, _ in nearest(vec, version=version, k=10, column=column)]
            found = {p.pk: p for p in Product.objects.filter(pk__in=keys)}
            sanity.setdefault(query, {})[column] = [f"{found[k].colour} {found[k].category}" for k in keys]
    result = {
        "products": count,
        "load_seconds": round(load_seconds, 1),
        "reindex_seconds": round(reindex_seconds, 1),
        "products_per_second": round(count / reindex_seconds, 1),
        "batch_size": args.batch_size,
        "failed": failed,
        "without_image_vector": no_image,
        "worker": "celery solo pool, filesystem broker, 1 process",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        # Other work on the machine slows the worker: the load average (1, 5, 15 min) at the end.
        "load_average_at_end": [round(x, 2) for x in load_average],
        "sanity_queries_top10": sanity,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reindex_hm.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# Reindex of the H&M catalog through a Celery worker",
        "",
        "| products | reindex (s) | products/s | failed | no image vector | load (s) | machine | load average (1/5/15 min) |",
        "|---|---|---|---|---|---|---|---|",
        (
            f"| {count} | {result['reindex_seconds']} | {result['products_per_second']} | {failed} | {no_image} | "
            f"{result['load_seconds']} | {result['machine']} | {' / '.join(map(str, result['load_average_at_end']))} |"
        ),
        "",
        "Sanity queries (top 10, colour + type) against the text, image (text→image) and fused vectors:",
        "",
    ]
    for query, cols in sanity.items():
        lines.append(f"- **{query}**: text: {', '.join(cols['text_embedding'])}")
        lines.append(f"  image: {', '.join(cols['image_embedding'])}")
        lines.append(f"  fused: {', '.join(cols['embedding'])}")
    (RESULTS / "reindex_hm.md").write_text("\n".join(lines) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "sanity_queries_top10"}, indent=2))

    from recommender.embedded import stop_embedded

    stop_embedded(bench_dir / "pgdata")


if __name__ == "__main__":
    main()
