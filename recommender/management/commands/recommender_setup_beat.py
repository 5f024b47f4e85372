"""Install the app's periodic tasks for django-celery-beat: ``manage.py recommender_setup_beat``.

Safe to run on every deploy: existing tasks keep the schedule the shop owner set in the admin.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from recommender.beat import install_periodic_tasks


class Command(BaseCommand):
    help = "Create or update the recommender's periodic tasks (django-celery-beat), keeping edited schedules."

    def handle(self, *args, **options) -> None:
        report = install_periodic_tasks()
        for label, names in (("created", report.created), ("updated", report.updated), ("unchanged", report.unchanged)):
            for name in names:
                self.stdout.write(f"{label}: {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Periodic tasks: {len(report.created)} created, {len(report.updated)} updated, "
                f"{len(report.unchanged)} unchanged."
            )
        )
