"""Fill the demo shop: ``manage.py shopdemo_load [--catalog PATH] [--limit N] [--until YYYY-MM-DD]``.

Without ``--catalog`` it builds the generated catalog (products with drawn images, demo
shoppers demo1…demo6 with password "demo", and anonymous crowd traffic). With ``--catalog`` it
loads an H&M-format folder: articles as products (article_id keys), customers as users
(username = customer_id) and their purchases as purchase events with the original dates.
Idempotent: running it twice changes nothing. Run ``recommender_reindex`` afterwards.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shopdemo.catalog import generated
from shopdemo.catalog.hm_import import CatalogSourceError, load_articles, load_purchases


class Command(BaseCommand):
    help = "Load the generated demo catalog, or an H&M-format catalog with its customers and purchases."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--catalog", type=Path, default=None, help="Folder with articles.csv, images/, transactions."
        )
        parser.add_argument(
            "--limit", type=int, default=None, help="Only the first N articles (or generated products)."
        )
        parser.add_argument(
            "--until",
            type=date.fromisoformat,
            default=None,
            help="Keep only purchases before this date (YYYY-MM-DD), for time-split evaluation.",
        )
        parser.add_argument("--max-customers", type=int, default=None, help="Load at most N customers' purchases.")
        parser.add_argument("--no-purchases", action="store_true", help="Products only.")

    def handle(
        self,
        *args,
        catalog: Path | None,
        limit: int | None,
        until: date | None,
        max_customers: int | None,
        no_purchases: bool,
        verbosity: int,
        **options,
    ) -> None:
        progress = verbosity > 0
        if catalog is None:
            products = generated.build_catalog(limit or 240, progress=progress)
            shoppers = generated.simulate_shoppers(products, progress=progress)
            crowd = generated.simulate_crowd(products)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Generated catalog: {len(products)} products, {shoppers + crowd} new events "
                    f"(demo shoppers demo1…demo{generated.DEMO_SHOPPERS}, password 'demo')."
                )
            )
            return
        try:
            count = load_articles(catalog, limit=limit, progress=progress)
        except CatalogSourceError as exc:
            raise CommandError(str(exc)) from exc
        users = events = 0
        if not no_purchases:
            users, events = load_purchases(catalog, until=until, max_customers=max_customers, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {count} products, {users} new customers and {events} new purchase events from {catalog}."
            )
        )
