"""Count product neighbours now: ``manage.py recommender_neighbours [--kind bought_together|also_viewed]``.

What beat's ``recommender.refresh_neighbours`` does every 10 minutes, run by hand: after loading a
shop's history, or to see how long a count takes on the shop's events.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from recommender.models import NeighbourKind
from recommender.neighbours import refresh_neighbours


class Command(BaseCommand):
    help = 'Recount "bought together" and "also viewed" neighbours from the events (what beat does).'

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--kind",
            action="append",
            choices=NeighbourKind.values,
            help="Only this kind (repeatable); default: every kind.",
        )

    def handle(self, *args, kind: list[str] | None, verbosity: int, **options) -> None:
        for report in refresh_neighbours(kind or None, progress=verbosity > 0):
            self.stdout.write(
                f"{report.kind}: {report.pairs} pairs over {report.products} products in {report.seconds:.1f} s"
            )
