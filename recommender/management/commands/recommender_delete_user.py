"""Delete what the recommender holds about a user: ``manage.py recommender_delete_user alice --yes``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recommender.management.commands.recommender_export_user import find_user
from recommender.privacy import delete_user_data


class Command(BaseCommand):
    help = "Delete a user's events, profiles and session links (the query log keeps anonymous aggregates only)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("user", help="Username or numeric id.")
        parser.add_argument("--yes", action="store_true", help="Do it (without it, only say what would go).")

    def handle(self, *args, user: str, yes: bool, **options) -> None:
        target = find_user(user)
        if not yes:
            raise CommandError(f"This deletes the recommender data of {target}. Run again with --yes to confirm.")
        counts = delete_user_data(target)
        self.stdout.write(
            self.style.SUCCESS(f"Deleted for {target}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        )
