"""The project's Celery application: ``celery -A tasks worker -l info``."""

from tasks.celery import app

__all__ = ["app"]
