"""Served = evaluated on Amazon Scientific: "for you" through recommend(), leave-one-out.

    python bench/behaviour_vectors.py amazon       # once: MiniLM text vectors (var/behaviour/)
    python bench/served_amazon.py [--epochs 100] [--max-shoppers N]

Loads the demo shop on its own embedded Postgres (``var/bench-served-amazon``): the 4,385 items
as products (title, categories, brand), the 8,442 reviewers as users and their 59,427
interactions as purchases in sequence order, the items' MiniLM text vectors as the active encoder
version. Then runs :func:`recommender.training.behaviour.served.served_evaluation` with
``protocol="leave-one-out"``, what the benchmark defines: every shopper's newest product is
held out, the model trains as ``recommender_train`` does on the rest (validated on the product
before it, the benchmark's validation item), and "for you" is asked for 10 products for every
shopper; Recall@10 and NDCG@10 over the full catalogue, beside the same blend scored offline and
the baselines. Training uses the offline benchmark's settings (``bench/behaviour_amazon.py``).
Writes ``bench/results/served_amazon.{json,md,png}``. Reads ../shared/data/amazon_scientific;
never copies it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np
from served_common import (  # bench/ is on sys.path
    add_run_arguments,
    bar_panels,
    save_results,
    start_demo_shop,
    timed,
    with_settings,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "amazon_scientific"
FEATURES = ROOT / "var" / "behaviour" / "amazon_scientific_minilm.npy"
# Published on the same files (VQ-Rec, WWW 2023) and our offline blend (bench/results/behaviour_amazon.md).
REFERENCES = {"VQ-Rec (paper)": {"recall@10": 0.1211, "ndcg@10": 0.0643}}
# Interactions get made-up times in sequence order, a day apart, ending before this.
TIMELINE_END = datetime(2018, 10, 1, tzinfo=UTC)


def read_items(folder: Path) -> tuple[list[str], dict[str, str]]:
    """Item keys (ASINs) in index order, and each one's text ("title. categories. brand.")."""
    keys: dict[int, str] = {}
    with open(folder / "Scientific.item2index") as handle:
        for line in handle:
            asin, index = line.rstrip("\n").split("\t")
            keys[int(index)] = asin
    texts = {}
    with open(folder / "Scientific.text") as handle:
        next(handle)
        for line in handle:
            asin, text = line.rstrip("\n").split("\t", 1)
            texts[asin] = text.strip()
    return [keys[i] for i in range(len(keys))], texts


def load_shop(folder: Path, features: Path) -> None:
    """Products, users, purchases and the item vectors as the active encoder version (once)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from bench.datasets import load_amazon_scientific
    from recommender.models import Event, ModelVersion
    from recommender.storage import VectorRow, ensure_indexes, store_vectors
    from recommender.versions import activate
    from shopdemo.catalog.models import Product

    call_command("migrate", verbosity=0)
    keys, texts = read_items(folder)
    if not Product.objects.exists():
        products = []
        for key in keys:
            text = texts.get(key, "")
            parts = [p.strip() for p in text.split(". ")]
            products.append(
                Product(
                    id=key,
                    name=(parts[0] or key)[:200],
                    description=text,
                    category=(parts[1] if len(parts) > 1 else "")[:100],
                    price=10,
                )
            )
        Product.objects.bulk_create(products, batch_size=2000)
    if not Event.objects.exists():
        data = load_amazon_scientific(folder)
        users = get_user_model()
        users.objects.bulk_create([users(username=f"amz{u}", password="!") for u in data.user_keys], batch_size=2000)
        ids = dict(users.objects.filter(username__startswith="amz").values_list("username", "id"))
        events = []
        for user, seq in zip(data.user_keys, data.sequences, strict=True):
            start = TIMELINE_END - timedelta(days=len(seq))
            for step, item in enumerate(seq):
                events.append(
                    Event(
                        type="purchase",
                        user_id=ids[f"amz{user}"],
                        product_key=keys[item],
                        created_at=start + timedelta(days=step),
                        processed=True,
                    )
                )
        Event.objects.bulk_create(events, batch_size=5000)
    if ModelVersion.objects.active(ModelVersion.Kind.ENCODER) is None:
        vectors = np.load(features)
        names = dict(Product.objects.values_list("id", "name"))
        version = ModelVersion.objects.create(
            kind=ModelVersion.Kind.ENCODER,
            name="amazon scientific MiniLM text vectors",
            dimensions=int(vectors.shape[1]),
            config={"MODEL": "bench:amazon_scientific_minilm.npy"},
        )
        rows = [
            VectorRow(
                key=key,
                embedding=vectors[i],
                image_embedding=vectors[i],
                text_embedding=vectors[i],
                title=names[key],
                category="",
                price=None,
                in_stock=True,
            )
            for i, key in enumerate(keys)
        ]
        store_vectors(version, rows)
        ensure_indexes(version)
        activate(version)


def plot(report: dict, path: Path, *, title: str) -> None:
    """Recall@10 and NDCG@10 bars of every ranking (served in red), with the published reference."""
    rows = {**report["all"], **report.get("references", {})}
    names = list(rows)
    colours = ["tab:red" if n.startswith("served") else "tab:blue" if n in REFERENCES else "tab:grey" for n in names]
    panels = [(metric, [rows[n].get(metric, 0.0) for n in names]) for metric in ("recall@10", "ndcg@10")]
    bar_panels(path, title=title, names=names, colours=colours, panels=panels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--features", type=Path, default=FEATURES)
    add_run_arguments(parser, epochs=100, prefix="served_amazon")
    args = parser.parse_args()
    if not (args.data / "Scientific.text").exists():
        sys.exit(f"Amazon Scientific not found at {args.data} (see ../shared/data/amazon_scientific/SOURCE.md).")
    if not args.features.exists():
        sys.exit(f"No item vectors at {args.features}: run python bench/behaviour_vectors.py amazon first.")
    start_demo_shop("bench-served-amazon")
    from recommender.training.behaviour.served import LEAVE_ONE_OUT, served_evaluation
    from recommender.training.behaviour.served_report import served_markdown

    # The offline benchmark's training settings (bench/behaviour_amazon.py); purchases only.
    base = {"epochs": args.epochs, "torch_threads": args.threads, "patience": 6, "lr": 2e-3, "batch_size": 128}
    overrides = with_settings({**base, "event_types": ["purchase"]}, args.set)
    report, seconds = timed(
        partial(load_shop, args.data, args.features),
        partial(
            served_evaluation,
            protocol=LEAVE_ONE_OUT,
            overrides=overrides,
            max_shoppers=args.max_shoppers,
            progress=True,
        ),
    )
    report["references"] = REFERENCES
    text = served_markdown(report, title='Served "for you" on Amazon Scientific (leave-one-out)')
    text += "".join(
        f"\nPublished on the same files: {name} Recall@10 {row['recall@10']}, NDCG@10 {row['ndcg@10']}.\n"
        for name, row in REFERENCES.items()
    )
    save_results(
        report,
        args.prefix,
        text,
        overrides=overrides,
        seconds=seconds,
        plot=partial(plot, title="Amazon Scientific, leave-one-out, served"),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
