"""Offline evaluation of the behaviour model against the baselines: ``manage.py recommender_evaluate``.

    manage.py recommender_evaluate --dataset shop
    manage.py recommender_evaluate --dataset amazon-scientific --data ../shared/data/amazon_scientific \
        --features var/behaviour/amazon_scientific_minilm.npy
    manage.py recommender_evaluate --dataset hm --data ../shared/data/hm_fashion --features var/behaviour/hm_items.npz

Writes ``behaviour_<dataset>.{json,md}`` and PNG plots to ``--output`` (default
``MODEL_DIR/evaluations``). The same run is :func:`recommender.behaviour.evaluate.run_evaluation`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from recommender.behaviour.evaluate import DATASETS, run_evaluation, write_report


class Command(BaseCommand):
    help = "Train the behaviour model on a data set and compare it with the baselines (full ranking)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dataset", choices=DATASETS, default="shop")
        parser.add_argument("--data", default=None, help="Folder of the amazon-scientific or hm files.")
        parser.add_argument("--features", default=None, help=".npy (item-index order) or .npz (ids, vectors).")
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--output", default=None)

    def handle(self, *args, **opts) -> None:
        from recommender.versions import model_dir

        features, keys = None, None
        if opts["dataset"] != "shop":
            if not opts["data"] or not opts["features"]:
                raise CommandError("--data and --features are required for the benchmark data sets.")
            path = Path(opts["features"])
            if path.suffix == ".npz":
                stored = np.load(path)
                features, keys = stored["vectors"], [str(k) for k in stored["ids"]]
            else:
                features = np.load(path)
        overrides = {"epochs": opts["epochs"]} if opts["epochs"] else None
        try:
            report = run_evaluation(opts["dataset"], features=features, item_keys=keys, data_dir=opts["data"],
                                    overrides=overrides, progress=opts["verbosity"] > 1)  # fmt: skip
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        out = Path(opts["output"]) if opts["output"] else model_dir() / "evaluations"
        paths = write_report(report, out, f"behaviour_{opts['dataset'].replace('-', '_')}")
        self.stdout.write(Path(paths["md"]).read_text())
        self.stdout.write(self.style.SUCCESS(f"Written: {', '.join(paths.values())}"))
