"""Prepare the demo shop end to end, reusing whatever already exists:
``manage.py shopdemo_setup [--catalog PATH] [--limit N] [--epochs N]``.

migrate → load the catalog (generated, or H&M with --catalog) → train the catalog CLIP if no
encoder version is active (no download needed) → embed every product → build profiles →
train and activate the behaviour model if none serves this encoder's vectors ("for you") →
build search suggestions and the bought-together / also-viewed neighbours → create the admin user (admin/admin, local use only).
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from recommender.indexing import reindex
from recommender.models import ModelVersion
from recommender.neighbours import refresh_neighbours
from recommender.profiles import rebuild_profiles
from recommender.versions import serving_version


class Command(BaseCommand):
    help = "Set up the demo shop (catalog, catalog CLIP, vectors, profiles, admin user); idempotent."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--catalog", type=Path, default=None, help="H&M-format folder; default: generated catalog.")
        parser.add_argument("--limit", type=int, default=None)
        parser.add_argument("--epochs", type=int, default=12, help="Catalog CLIP epochs on the first run.")
        parser.add_argument(
            "--behaviour-epochs",
            type=int,
            default=20,
            help="Behaviour-model epochs (early stopping) when none serves; 0 skips it.",
        )

    def handle(
        self,
        *args,
        catalog: Path | None,
        limit: int | None,
        epochs: int,
        behaviour_epochs: int,
        verbosity: int,
        **options,
    ) -> None:
        say = self.stdout.write
        call_command("migrate", verbosity=0, interactive=False)
        load_args = ["--catalog", str(catalog)] if catalog else []
        load_args += ["--limit", str(limit)] if limit else []
        call_command("shopdemo_load", *load_args, verbosity=verbosity)
        if serving_version() is None:
            say("No active encoder: training the catalog CLIP on this catalog (no download needed)…")
            call_command("recommender_train_encoder", "--epochs", str(epochs), "--activate", verbosity=verbosity)
        else:
            report = reindex(progress=verbosity > 0)
            say(f"Vectors: {report.embedded} embedded, {report.skipped} unchanged.")
        say(f"Profiles: {rebuild_profiles(days=None, progress=verbosity > 0)} built.")
        if behaviour_epochs > 0:
            self._behaviour_model(behaviour_epochs, verbosity)
        from recommender.search import refresh_suggestions

        refresh_suggestions()
        for report in refresh_neighbours():
            say(f"Neighbours ({report.kind}): {report.pairs} pairs over {report.products} products.")
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
            say("Created the admin user admin / admin (local use only).")
        say(self.style.SUCCESS(f"Demo ready; serving {serving_version()}"))

    def _behaviour_model(self, epochs: int, verbosity: int) -> None:
        """ "For you" from the behaviour model, trained on the demo's events unless one already serves."""

        active, encoder = ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR), serving_version()
        if active is not None and encoder is not None and active.config.get("encoder_version_id") == encoder.pk:
            self.stdout.write(f"Behaviour model: {active} serves.")
            return
        self.stdout.write('Training the behaviour model on the shop\'s events ("for you")…')
        try:
            call_command("recommender_train", "--epochs", str(epochs), "--activate", verbosity=verbosity)
        except (CommandError, ValueError) as exc:  # too few events yet: profiles serve meanwhile
            self.stdout.write(self.style.WARNING(f"Behaviour model not trained: {exc}"))
