"""Embed the catalog: ``manage.py recommender_reindex [--async] [--force] [--batch-size N]``.

Resumable: products whose content and model version are unchanged are skipped, so running it
again after an interruption continues where it stopped. ``--from-settings`` builds a new
encoder version from ``RECOMMENDER["ENCODER"]`` beside the active one and switches when done.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recommender.indexing import reindex
from recommender.models import ModelVersion
from recommender.versions import register_encoder_version, serving_version, start_build


class Command(BaseCommand):
    help = "Embed every product (images and texts) into the active encoder version, or build a new one."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--async", action="store_true", dest="run_async", help="Queue batches on the embeddings queue."
        )
        parser.add_argument("--force", action="store_true", help="Re-embed products whose content did not change.")
        parser.add_argument("--batch-size", type=int, default=None, help="Products per batch (EMBED_BATCH_SIZE).")
        target = parser.add_mutually_exclusive_group()
        target.add_argument(
            "--model-version", type=int, default=None, dest="model_version", help="Embed into this model version (id)."
        )
        target.add_argument(
            "--from-settings",
            action="store_true",
            help='Build a new version from RECOMMENDER["ENCODER"]; queries switch to it when it is complete.',
        )

    def handle(
        self,
        *args,
        run_async: bool,
        force: bool,
        batch_size: int | None,
        model_version: int | None,
        from_settings: bool,
        verbosity: int,
        **options,
    ) -> None:
        target = None
        if model_version is not None:
            try:
                target = ModelVersion.objects.get(pk=model_version, kind=ModelVersion.Kind.ENCODER)
            except ModelVersion.DoesNotExist as exc:
                raise CommandError(f"No encoder version with id {model_version}.") from exc
            start_build(target)
        elif from_settings:
            target = start_build(register_encoder_version(_settings_encoder()))
        report = reindex(target, force=force, batch_size=batch_size, run_async=run_async, progress=verbosity > 0)
        active = serving_version()
        if run_async:
            self.stdout.write(f"Queued {report.queued} products in {report.batches} batches.")
        else:
            self.stdout.write(
                f"Embedded {report.embedded}, unchanged {report.skipped}, failed {report.failed}, "
                f"removed {report.removed}; {len(report.image_errors)} products without a usable image."
            )
        if active is not None:
            self.stdout.write(f"Serving: {active}")


def _settings_encoder() -> dict:
    from recommender.conf import app_settings

    return dict(app_settings.ENCODER)
