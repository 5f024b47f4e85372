"""Everything the recommender holds about a user, as JSON: ``manage.py recommender_export_user alice``."""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from recommender.privacy import export_user_data


def find_user(identifier: str):
    User = get_user_model()
    user = User.objects.filter(**{User.USERNAME_FIELD: identifier}).first()
    if user is None and identifier.isdigit():
        user = User.objects.filter(pk=int(identifier)).first()
    if user is None:
        raise CommandError(f"No user with username or id {identifier!r}.")
    return user


class Command(BaseCommand):
    help = (
        "Export the recommender's data about one user (personalisation opt-out, events, profiles, search log, "
        "model versions) as JSON."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("user", help="Username or numeric id.")

    def handle(self, *args, user: str, **options) -> None:
        self.stdout.write(json.dumps(export_user_data(find_user(user)), indent=2, ensure_ascii=False))
