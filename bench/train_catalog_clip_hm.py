"""Train the catalog CLIP on the shared H&M subset and measure it; writes bench/results/catalog_clip_hm.*.

Usage (from the repository root)::

    python bench/train_catalog_clip_hm.py                       # data at ../shared/data/hm_fashion
    python bench/train_catalog_clip_hm.py --data /elsewhere/hm_fashion --epochs 5

Trains on all 6,000 articles with 10 % held out (seed 0), then reports, besides the per-epoch
retrieval curves: "similar products" (for held-out articles, how often the 10 nearest image
vectors in the whole catalog include an article of the same product type and colour, against
the rate 10 random picks would reach) and a sanity query. The checkpoint goes to the git-ignored
``var/models/catalog-clip-hm``; the data is only read, never copied.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXT_TEMPLATE = (
    "{prod_name}. {product_type_name}. {colour_group_name} {graphical_appearance_name}. "
    "{section_name}, {garment_group_name}. {detail_desc}"
)
SANITY_QUERY = "black summer dress"
# Neighbours looked at for "similar products": one row of a typical recommendation carousel.
SIMILAR_K = 10


def main() -> int:
    args = _parse_args()
    data_dir = args.data if args.data.is_absolute() else (ROOT / args.data)
    articles_csv = data_dir / "articles.csv"
    if not articles_csv.is_file():
        print(
            f"H&M data not found: {articles_csv} does not exist. Pass --data pointing at the hm_fashion "
            "folder (see ../shared/README.md).",
            file=sys.stderr,
        )
        return 2

    import numpy as np
    import torch

    from recommender.encoders.packaged import find_machine_paths
    from recommender.images import ImageLoadError, load_image
    from recommender.training.catalog_clip import train_catalog_clip
    from recommender.training.plots import plot_history

    torch.set_num_threads(args.threads)
    articles = _read_articles(articles_csv, args.limit)
    pairs = [(row["article_id"], data_dir / row["image_path"], _product_text(row)) for row in articles]
    output = ROOT / args.output
    print(f"{len(pairs)} articles, {args.threads} threads -> {args.output}", flush=True)

    def report_epoch(metrics: dict[str, Any]) -> None:
        shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in metrics.items()}
        print(json.dumps(shown), flush=True)

    overrides = {
        name: value
        for name, value in (
            ("epochs", args.epochs),
            ("batch_size", args.batch_size),
            ("lr", args.lr),
            ("image_size", args.image_size),
        )
        if value is not None
    }
    result = train_catalog_clip(
        pairs, output, seed=args.seed, val_fraction=0.1, progress=not args.quiet, on_epoch=report_epoch, **overrides
    )
    print(f"trained in {result.train_seconds:.0f} s: {result.final_metrics}", flush=True)

    # Catalog image vectors through the serving path (decode, pad, resize, encode).
    encoder = result.encoder
    started = time.perf_counter()
    keys, vectors = [], []
    by_key = {row["article_id"]: row for row in articles}
    for start in range(0, len(pairs), 256):
        images, batch_keys = [], []
        for key, path, _ in pairs[start : start + 256]:
            try:
                images.append(load_image(path))
                batch_keys.append(key)
            except ImageLoadError:
                continue
        vectors.append(encoder.encode_images(images))
        keys.extend(batch_keys)
    image_vectors = np.concatenate(vectors)
    embed_seconds = time.perf_counter() - started

    similar = _similar_products(keys, image_vectors, by_key, set(result.val_keys))
    sanity = _sanity_query(encoder, keys, image_vectors, by_key)
    print(f"similar products: {similar['hit_rate']:.3f} (random {similar['random_hit_rate']:.3f})", flush=True)
    print(f"'{SANITY_QUERY}':", [f"{r['product_type']}/{r['colour']}" for r in sanity["top10"]], flush=True)

    # Smoke runs (--limit) must not overwrite the committed results.
    results_dir = ROOT / "bench" / "results" if args.limit is None else ROOT / "var" / "bench-smoke"
    results_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "what": "catalog CLIP (timm resnet18 image tower, random init, padded on white; frozen "
        "all-MiniLM-L6-v2 text tower, mean pooling, no projection, 384-d) trained on H&M",
        "data": {
            "dataset": "hm_fashion (shared, not redistributed)",
            "articles": len(pairs),
            "trained": result.n_train,
            "held_out": result.n_val,
            "skipped": len(result.skipped),
            "text_template": TEXT_TEMPLATE,
        },
        "settings": result.settings,
        "train_seconds": round(result.train_seconds, 1),
        # Other jobs shared this machine's 2 cores; CPU time / threads is what the run would take alone.
        "train_seconds_uncontended_estimate": round(result.seconds["process_cpu"] / torch.get_num_threads(), 1),
        "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "history": result.history,
        "final_metrics": result.final_metrics,
        "chance_r10_held_out": round(10 / max(result.n_val, 1), 4),
        "similar_products": similar,
        "sanity_query": sanity,
        "catalog_embedding": {
            "images": len(keys),
            "seconds": round(embed_seconds, 1),
            "images_per_second": round(len(keys) / embed_seconds, 1),
        },
        "checkpoint": {"folder": args.output.as_posix(), "version": encoder.version},
        "machine": _machine(torch),
        "goal": {
            "t2i_r10_at_least": 0.70,
            "train_minutes_at_most": 15,
            "r10_met": result.final_metrics.get("t2i_r10", 0) >= 0.70,
            "time_met_wall": result.train_seconds <= 900,
            "time_met_uncontended_estimate": result.seconds["process_cpu"] / torch.get_num_threads() <= 900,
        },
    }
    leaks = find_machine_paths(report)
    if leaks:
        raise SystemExit(f"refusing to write machine paths into the results: {leaks}")
    (results_dir / "catalog_clip_hm.json").write_text(json.dumps(report, indent=2) + "\n")
    plot_history(
        result.history,
        results_dir / "catalog_clip_hm.png",
        title=f"catalog CLIP on H&M — {result.n_val} held-out articles, seed {args.seed}",
    )
    print(f"wrote {results_dir.relative_to(ROOT).as_posix()}/catalog_clip_hm.json and .png", flush=True)
    return 0


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("../shared/data/hm_fashion"),
        help="hm_fashion folder (default: ../shared/data/hm_fashion, relative to the repository root)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("var/models/catalog-clip-hm"),
        help="checkpoint folder, relative to the repository root (git-ignored var/)",
    )
    # None: train_catalog_clip()'s own defaults, so this bench measures what the app ships.
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N articles (smoke test)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args()


def _read_articles(path: Path, limit: int | None) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return rows[:limit] if limit else rows


def _product_text(row: dict[str, str]) -> str:
    text = TEXT_TEMPLATE.format(**{key: (value or "").strip() for key, value in row.items()})
    return " ".join(text.split()).rstrip(". ") + "."


def _similar_products(keys: list[str], vectors: Any, by_key: dict[str, dict[str, str]], held_out: set[str]) -> dict:
    """Held-out queries: do the 10 nearest catalog images include the same product type and colour?"""
    import numpy as np

    labels = [(by_key[k]["product_type_name"], by_key[k]["colour_group_name"]) for k in keys]
    count = len(keys)
    group_size: dict[tuple[str, str], int] = {}
    for label in labels:
        group_size[label] = group_size.get(label, 0) + 1
    hits, precision, random_rate = [], [], []
    for index in (i for i, key in enumerate(keys) if key in held_out):
        similarities = vectors @ vectors[index]
        similarities[index] = -np.inf  # not itself
        neighbours = np.argpartition(-similarities, SIMILAR_K)[:SIMILAR_K]
        same = [labels[n] == labels[index] for n in neighbours]
        hits.append(any(same))
        precision.append(sum(same) / SIMILAR_K)
        others = group_size[labels[index]] - 1
        # P(at least one of 10 random other articles matches) = 1 - C(N-1-m, 10) / C(N-1, 10)
        random_rate.append(1 - math.comb(count - 1 - others, SIMILAR_K) / math.comb(count - 1, SIMILAR_K))
    return {
        "queries": len(hits),
        "k": SIMILAR_K,
        "hit_rate": round(float(np.mean(hits)), 4),
        "precision_at_10": round(float(np.mean(precision)), 4),
        "random_hit_rate": round(float(np.mean(random_rate)), 4),
        "definition": "held-out article; neighbours = 10 most similar image vectors among all other articles; "
        "hit = a neighbour with the same product_type_name and colour_group_name",
    }


def _sanity_query(encoder: Any, keys: list[str], vectors: Any, by_key: dict[str, dict[str, str]]) -> dict:
    import numpy as np

    query = encoder.encode_texts([SANITY_QUERY])[0]
    order = np.argsort(-(vectors @ query))[:10]
    top = [
        {
            "article_id": keys[i],
            "prod_name": by_key[keys[i]]["prod_name"],
            "product_type": by_key[keys[i]]["product_type_name"],
            "colour": by_key[keys[i]]["colour_group_name"],
        }
        for i in order
    ]
    return {
        "query": SANITY_QUERY,
        "searched": "image vectors of all articles (text -> image)",
        "top10": top,
        "dresses": sum(row["product_type"] == "Dress" for row in top),
        "black": sum(row["colour"] == "Black" for row in top),
    }


def _machine(torch: Any) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import open_clip

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        "platform": platform.platform(terse=True),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }


if __name__ == "__main__":
    raise SystemExit(main())
