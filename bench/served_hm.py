"""Served = evaluated on H&M: "for you" through recommend(), trained as recommender_train trains.

    python bench/behaviour_vectors.py hm            # once: the articles' vectors (var/behaviour/hm_items.npz)
    python bench/served_hm.py [--epochs 10] [--cut 2020-09-20] [--max-shoppers N]

Loads the demo shop on its own embedded Postgres (``var/bench-served``): every H&M article and
every purchase, the cached article vectors as the active encoder version (no image encoding:
the served path reads stored vectors only). Then runs
:func:`recommender.training.behaviour.served.served_evaluation` at the cut: training on the
purchases before it (validation on the last day, 2020-09-19, as the offline benchmark), "for
you" for every customer who bought on 2020-09-20..22, scored beside the offline blend and the
baselines on the same customers. Writes ``bench/results/served_evaluation.{json,md,png}``.
Reads ../shared/data/hm_fashion; never copies it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
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
DATA = ROOT.parent / "shared" / "data" / "hm_fashion"


def load_shop(data: Path, vectors: Path) -> None:
    """Articles, customers, purchases and the article vectors as the active encoder version (once)."""
    from django.core.management import call_command

    from recommender.models import Event, ModelVersion
    from recommender.storage import VectorRow, ensure_indexes, store_vectors
    from recommender.versions import activate
    from shopdemo.catalog.hm_import import load_articles, load_purchases
    from shopdemo.catalog.models import Product

    call_command("migrate", verbosity=0)
    load_articles(data, progress=True)  # an upsert: a shop loaded before a new field gets it
    if not Event.objects.exists():
        load_purchases(data, progress=True)
    if ModelVersion.objects.active(ModelVersion.Kind.ENCODER) is None:
        stored = np.load(vectors)
        by_id = dict(zip([str(i) for i in stored["ids"]], stored["vectors"], strict=True))
        version = ModelVersion.objects.create(
            kind=ModelVersion.Kind.ENCODER,
            name=f"hm vectors ({stored['source']})",
            dimensions=int(stored["vectors"].shape[1]),
            config={"MODEL": "bench:hm_items.npz"},
        )
        rows = []
        for product in Product.objects.all():
            vector = by_id[str(product.pk)]
            rows.append(
                VectorRow(
                    key=str(product.pk),
                    embedding=vector,
                    image_embedding=vector,
                    text_embedding=vector,
                    title=product.name,
                    category=product.category,
                    price=product.price,
                    in_stock=True,
                )
            )
        store_vectors(version, rows)
        ensure_indexes(version)
        activate(version)


def plot(report: dict, path: Path, *, title: str) -> None:
    """MAP@12 bars of every ranking, all purchased articles and articles new to the customer."""
    names = list(report["all"])
    panels = [
        (f"MAP@12, {label}", [report[part].get(name, {}).get("map@12", 0.0) for name in names])
        for part, label in (("all", "all test articles"), ("new", "new to the customer"))
    ]
    colours = ["tab:red" if name.startswith("served") else "tab:grey" for name in names]
    bar_panels(path, title=title, names=names, colours=colours, panels=panels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--vectors", type=Path, default=ROOT / "var" / "behaviour" / "hm_items.npz")
    parser.add_argument("--cut", default="2020-09-20")
    add_run_arguments(parser, epochs=10, prefix="served_evaluation")
    args = parser.parse_args()
    if not (args.data / "articles.csv").exists():
        sys.exit(f"H&M data not found at {args.data} (see ../shared/data/hm_fashion/SOURCE.md).")
    if not args.vectors.exists():
        sys.exit(f"No article vectors at {args.vectors}: run python bench/behaviour_vectors.py hm first.")
    start_demo_shop("bench-served")
    from recommender.training.behaviour.served import served_evaluation
    from recommender.training.behaviour.served_report import served_markdown

    # The offline benchmark's training settings (bench/behaviour_hm.py), fewer epochs on a shared CPU.
    base = {"epochs": args.epochs, "torch_threads": args.threads, "patience": 4, "lr": 2e-3, "batch_size": 256}
    overrides = with_settings({**base, "max_len": 30}, args.set)
    cut = datetime.fromisoformat(args.cut).replace(tzinfo=UTC)
    report, seconds = timed(
        partial(load_shop, args.data, args.vectors),
        partial(served_evaluation, cut, overrides=overrides, max_shoppers=args.max_shoppers, progress=True),
    )
    text = served_markdown(report, title='Served "for you" on H&M (time split at ' + args.cut + ")")
    save_results(
        report,
        args.prefix,
        text,
        overrides=overrides,
        seconds=seconds,
        plot=partial(plot, title=f"H&M, time split at {args.cut}"),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
