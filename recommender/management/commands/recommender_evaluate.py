"""Offline evaluation of the behaviour model against the baselines on this shop's events:
``manage.py recommender_evaluate``.

    manage.py recommender_evaluate [--dataset shop] [--epochs N] [--output DIR]

Leave-one-out over every shopper's events, full-catalogue ranking. Writes ``behaviour_shop.{json,md}``
and PNG plots to ``--output`` (default ``MODEL_DIR/evaluations``). The same run is
:func:`recommender.training.behaviour.shop_evaluation.run_evaluation`. The public benchmarks (Amazon
"Scientific", H&M) are scripts outside the app: ``python bench/behaviour_amazon.py`` and
``python bench/behaviour_hm.py``.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recommender.training.behaviour.report import write_report
from recommender.training.behaviour.shop_evaluation import run_evaluation
from recommender.versions import model_dir

# The public data sets moved out of the app; naming one says where it went.
BENCHMARKS = {"amazon-scientific": "bench/behaviour_amazon.py", "hm": "bench/behaviour_hm.py"}


class Command(BaseCommand):
    help = "Train the behaviour model on the shop's events and compare it with the baselines (full ranking)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dataset", default="shop", help='Only "shop" (this shop\'s events).')
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--output", default=None)

    def handle(self, *args, **opts) -> None:
        dataset = opts["dataset"]
        if dataset in BENCHMARKS:
            raise CommandError(
                f"The {dataset} benchmark is a script outside the app: run python {BENCHMARKS[dataset]} "
                "from a checkout of the project."
            )
        if dataset != "shop":
            raise CommandError(f'Unknown dataset {dataset!r}: recommender_evaluate evaluates "shop" only.')
        overrides = {"epochs": opts["epochs"]} if opts["epochs"] else None
        try:
            report = run_evaluation(overrides=overrides, progress=opts["verbosity"] > 1)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        out = Path(opts["output"]) if opts["output"] else model_dir() / "evaluations"
        paths = write_report(report, out, "behaviour_shop")
        self.stdout.write(Path(paths["md"]).read_text())
        self.stdout.write(self.style.SUCCESS(f"Written: {', '.join(paths.values())}"))
