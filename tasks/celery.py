"""Celery app for the demo shop (and the pattern a host project copies).

Configuration comes from Django settings under the ``CELERY_`` namespace; the broker from
``CELERY_BROKER_URL`` (environment). Tasks of installed apps are autodiscovered, so
``recommender.tasks`` registers itself. Every task goes to the default queue, so
``celery -A tasks worker`` runs them all; with ``RECOMMENDER["EMBEDDINGS_QUEUE"]`` set, embedding
tasks go to that queue instead, for dedicated (GPU) workers: ``celery -A tasks worker -Q embeddings``.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopdemo.settings")

app = Celery("tasks")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
