"""Load a catalog into the demo shop: ``manage.py shopdemo_load --catalog ../shared/data/hm_fashion``.

Products only for now (bulk, no signals): run ``manage.py recommender_reindex`` afterwards.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shopdemo.catalog.hm_import import CatalogSourceError, load_articles


class Command(BaseCommand):
    help = "Load an H&M-format catalog (articles.csv + images/) into the demo shop."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--catalog", required=True, type=Path, help="Folder with articles.csv and images/.")
        parser.add_argument("--limit", type=int, default=None, help="Load only the first N articles.")

    def handle(self, *args, catalog: Path, limit: int | None, verbosity: int, **options) -> None:
        try:
            count = load_articles(catalog, limit=limit, progress=verbosity > 0)
        except CatalogSourceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Loaded {count} products from {catalog}."))
