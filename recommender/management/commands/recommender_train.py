"""Train the behaviour model on this shop's events: ``manage.py recommender_train``.

Sequences of views, clicks, add-to-carts and purchases per shopper, item features from the
serving encoder version's fused vectors; registers ``ModelVersion(kind="behaviour")`` with its
validation and test metrics. ``--activate`` serves it at once; without it, it is activated when
``RECOMMENDER["BEHAVIOUR"]["auto_activate"]`` is set and it beats the active version.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recommender.training.behaviour.train import train_behaviour


class Command(BaseCommand):
    help = "Train the next-item behaviour model on the shop's events and register it as a model version."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--lr", type=float, default=None)
        parser.add_argument("--hidden", type=int, default=None)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--device", default=None)
        parser.add_argument("--name", default="", help="Label of the new model version.")
        parser.add_argument("--activate", action="store_true", help="Serve the new version now.")

    def handle(self, *args, **opts) -> None:
        keys = {
            "epochs": "epochs",
            "batch_size": "batch_size",
            "lr": "lr",
            "hidden": "hidden",
            "seed": "seed",
            "device": "device",
        }
        overrides = {cfg: opts[opt] for opt, cfg in keys.items() if opts[opt] is not None}

        def report(row: dict) -> None:
            if row.get("refit"):
                self.stdout.write(f"refit on every event, epoch {row['epoch']}: loss {row['train_loss']:.4f}")
                return
            self.stdout.write(
                f"epoch {row['epoch']}: loss {row['train_loss']:.4f}, valid NDCG@10 {row['valid_ndcg@10']:.4f}, "
                f"Recall@10 {row['valid_recall@10']:.4f}"
            )

        try:
            version = train_behaviour(
                overrides=overrides,
                activate=True if opts["activate"] else None,
                name=opts["name"],
                progress=opts["verbosity"] > 1,
                on_epoch=report,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Registered {version} (artifact {version.artifact})"))
        self.stdout.write(f"Test metrics: {version.metrics.get('test')}")
        self.stdout.write(f"Blend: {version.message}")  # the tuned weights and the diversity λ auto serves
