"""Offline evaluation of the behaviour model against the baselines on this shop's events:
``manage.py recommender_evaluate``.

    manage.py recommender_evaluate [--dataset shop] [--epochs N] [--output DIR]
    manage.py recommender_evaluate --served --cut 2020-09-20 [--epochs N] [--output DIR]
    manage.py recommender_evaluate --served --protocol leave-one-out [--epochs N] [--output DIR]

Leave-one-out over every shopper's events, full-catalogue ranking. Writes ``behaviour_shop.{json,md}``
and PNG plots to ``--output`` (default ``MODEL_DIR/evaluations``). The same run is
:func:`recommender.training.behaviour.shop_evaluation.run_evaluation`. The public benchmarks (Amazon
"Scientific", H&M) are scripts outside the app: ``python bench/behaviour_amazon.py`` and
``python bench/behaviour_hm.py``.

``--served``: train on the events before ``--cut`` exactly as ``recommender_train`` does, ask
"for you" for every shopper who bought from the cut on, and score it beside the offline blend
and the baselines (:func:`recommender.training.behaviour.served.served_evaluation`); nothing it
does stays in the database. ``--protocol leave-one-out`` (no cut) holds out each shopper's newest
product instead and scores Recall@10 and NDCG@10, as the Amazon benchmarks define. Writes
``served_shop.{json,md}``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recommender.training.behaviour.report import write_report
from recommender.training.behaviour.served import LEAVE_ONE_OUT, TIME_SPLIT, served_evaluation
from recommender.training.behaviour.served_report import served_markdown
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
        parser.add_argument("--served", action="store_true", help="Evaluate 'for you' through the serving path.")
        parser.add_argument("--cut", default=None, help="With --served: train before this date (YYYY-MM-DD).")
        parser.add_argument(
            "--protocol",
            choices=(TIME_SPLIT, LEAVE_ONE_OUT),
            default=TIME_SPLIT,
            help="With --served: a time split at --cut (MAP@12), or each shopper's newest product held out (@10).",
        )
        parser.add_argument("--max-shoppers", type=int, default=None, help="With --served: score at most N.")

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
        out = Path(opts["output"]) if opts["output"] else model_dir() / "evaluations"
        if opts["served"]:
            self._served(opts, overrides, out)
            return
        try:
            report = run_evaluation(overrides=overrides, progress=opts["verbosity"] > 1)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        paths = write_report(report, out, "behaviour_shop")
        self.stdout.write(Path(paths["md"]).read_text())
        self.stdout.write(self.style.SUCCESS(f"Written: {', '.join(paths.values())}"))

    def _served(self, opts: dict, overrides: dict | None, out: Path) -> None:
        cut = None
        if opts["protocol"] == LEAVE_ONE_OUT:
            if opts["cut"]:
                raise CommandError(
                    "--protocol leave-one-out takes no --cut: each shopper's newest product is held out."
                )
        elif not opts["cut"]:
            raise CommandError("--served needs --cut YYYY-MM-DD: the model trains on the events before it.")
        else:
            try:
                cut = datetime.fromisoformat(opts["cut"])
            except ValueError as exc:
                raise CommandError(f"--cut {opts['cut']!r} is not a date (YYYY-MM-DD).") from exc
            if cut.tzinfo is None:
                cut = cut.replace(tzinfo=UTC)
        try:
            report = served_evaluation(
                cut,
                protocol=opts["protocol"],
                overrides=overrides,
                max_shoppers=opts["max_shoppers"],
                progress=opts["verbosity"] > 1,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        out.mkdir(parents=True, exist_ok=True)
        (out / "served_shop.json").write_text(json.dumps(report, indent=2, default=str))
        markdown = served_markdown(report)
        (out / "served_shop.md").write_text(markdown)
        self.stdout.write(markdown)
        self.stdout.write(self.style.SUCCESS(f"Written: {out / 'served_shop.json'}, {out / 'served_shop.md'}"))
