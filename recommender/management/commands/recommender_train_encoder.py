"""Train the catalog CLIP on this shop's products: ``manage.py recommender_train_encoder``.

Without ``--base-model`` it trains the offline catalog CLIP (pretrained MiniLM text tower,
locked; a resnet18 image tower learns to land in MiniLM's space from your product photos).
With ``--base-model ViT-B-32 --pretrained laion2b_s34b_b79k`` it fine-tunes that CLIP instead
(``--heads-only`` trains just the projections). ``--activate`` embeds the catalog with the new
model beside the active one and switches when complete.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recommender.indexing import build_and_switch
from recommender.training.defaults import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_IMAGE_SIZE, DEFAULT_LR
from recommender.training.encoder import train_encoder


class Command(BaseCommand):
    help = "Train (or fine-tune) a CLIP encoder on the catalog and register it as a model version."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument("--lr", type=float, default=DEFAULT_LR)
        parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE, help="Catalog CLIP input size (px).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--val-fraction", type=float, default=0.1, help="Held-out products for the metrics.")
        parser.add_argument("--limit", type=int, default=None, help="Train on the first N products only.")
        parser.add_argument("--base-model", default=None, help="Fine-tune this open_clip model instead.")
        parser.add_argument("--pretrained", default=None, help="Pretrained tag or checkpoint of --base-model.")
        parser.add_argument("--heads-only", action="store_true", help="Fine-tune only the projection heads.")
        parser.add_argument("--device", default="auto")
        parser.add_argument("--name", default="", help="Label of the new model version.")
        parser.add_argument("--activate", action="store_true", help="Embed the catalog with it and switch when done.")

    def handle(self, *args, **opts) -> None:
        base = {"MODEL": opts["base_model"], "PRETRAINED": opts["pretrained"]} if opts["base_model"] else None
        if opts["heads_only"] and base is None:
            raise CommandError("--heads-only applies to fine-tuning: give --base-model too.")

        def report(metrics: dict) -> None:
            shown = {k: round(v, 3) for k, v in metrics.items() if k.startswith(("i2t_", "t2i_", "loss"))}
            self.stdout.write(f"epoch {metrics.get('epoch')}: {shown}")

        try:
            version = train_encoder(
                name=opts["name"],
                base_model=base,
                limit=opts["limit"],
                progress=opts["verbosity"] > 0,
                on_epoch=report,
                epochs=opts["epochs"],
                batch_size=opts["batch_size"],
                lr=opts["lr"],
                image_size=opts["image_size"],
                seed=opts["seed"],
                val_fraction=opts["val_fraction"],
                train_only_heads=opts["heads_only"],
                device=opts["device"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Registered {version} (artifact {version.artifact})"))
        self.stdout.write(f"Held-out metrics: {version.metrics.get('final')}")
        if opts["activate"]:
            result = build_and_switch(version, progress=opts["verbosity"] > 0)
            version.refresh_from_db()
            self.stdout.write(f"Embedded {result.embedded} products; version state: {version.state}")
