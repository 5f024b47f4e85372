"""Export a version's text tower to ONNX: ``manage.py recommender_export_query_encoder [--model-version ID]``.

Web processes then encode search queries with onnxruntime instead of loading torch
(:mod:`recommender.query_encoders`). Run it where torch is installed (a worker), on the model
folder the web servers read; training a catalog CLIP does it by itself. Idempotent: an export of
the same weights is kept unless ``--force``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recommender.encoders import EncoderLoadError
from recommender.models import ModelVersion
from recommender.query_encoders import export_query_encoder
from recommender.versions import serving_version


class Command(BaseCommand):
    help = "Export the serving (or given) encoder version's text side to ONNX for torch-free query encoding."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--model-version", type=int, default=None, dest="model_version", help="Version id.")
        parser.add_argument("--force", action="store_true", help="Export again even if a matching export exists.")

    def handle(self, *args, model_version: int | None, force: bool, **options) -> None:
        if model_version is None:
            version = serving_version()
            if version is None:
                raise CommandError("No active encoder version; run `manage.py recommender_reindex` first.")
        else:
            try:
                version = ModelVersion.objects.get(pk=model_version, kind=ModelVersion.Kind.ENCODER)
            except ModelVersion.DoesNotExist as exc:
                raise CommandError(f"No encoder version with id {model_version}.") from exc
        try:
            folder = export_query_encoder(version, force=force)
        except (EncoderLoadError, ValueError, OSError) as exc:
            raise CommandError(f"Could not export the query encoder of {version}: {exc}") from exc
        if folder is None:
            self.stdout.write(f"{version}: its text tower is not exportable; queries keep using torch.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Exported the query encoder of {version} to {folder}"))
