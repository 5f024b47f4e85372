"""Embed product texts for multilingual search: ``manage.py recommender_multilingual_index [--force]``.

Builds (or refreshes) the USE-m3 version named by ``RECOMMENDER["SEARCH_MULTILINGUAL_VERSION"]``;
resumable like ``recommender_reindex``.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from recommender.multilingual_index import build_multilingual_version


class Command(BaseCommand):
    help = "Embed every product text with USE-m3 for queries in other languages."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="Re-embed products whose text did not change.")
        parser.add_argument("--batch-size", type=int, default=None, help="Products per batch (EMBED_BATCH_SIZE).")

    def handle(self, *args, force: bool, batch_size: int | None, verbosity: int, **options) -> None:
        try:
            version, report = build_multilingual_version(batch_size=batch_size, force=force, progress=verbosity > 0)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{version}: embedded {report.embedded}, unchanged {report.skipped}, failed {report.failed}, "
            f"removed {report.removed}."
        )
