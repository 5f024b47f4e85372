"""Celery tasks of the behaviour model: training and activation (registered by ``recommender.tasks``,
which imports this module so Celery's autodiscovery finds them under their unchanged names).

    train_behaviour_task.delay(overrides, activate)     # "recommender.train_behaviour"
    activate_behaviour_task.delay(version_id)          # "recommender.activate_behaviour"

The training task imports its module when it runs, not here: ``recommender.tasks`` is imported
by the web process (admin, receivers), which must not load torch. (``recommender.train_encoder``
stays in ``recommender.tasks``, beside the reindexing it starts.)
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import transaction

from recommender.models import ModelVersion, ProductVector
from recommender.versions import activate

__all__ = ["activate_behaviour_task", "train_behaviour_task"]


@shared_task(name="recommender.train_behaviour")
def train_behaviour_task(overrides: dict[str, Any] | None = None, activate: bool | None = None) -> int:
    """Train on the shop's events and register (and maybe activate) a version; returns its id."""
    from recommender.training.behaviour.train import train_behaviour  # torch: only in the worker

    return train_behaviour(overrides=overrides, activate=activate).pk


@shared_task(name="recommender.activate_behaviour")
def activate_behaviour_task(version_id: int) -> int:
    """Activate a behaviour version: write its product output vectors, then switch (minutes on a
    large catalogue, hence a task). A failure leaves the active version serving and says why on
    the version. Returns how many product rows the version serves from."""
    version = ModelVersion.objects.get(pk=version_id, kind=ModelVersion.Kind.BEHAVIOUR)
    try:
        with transaction.atomic():
            activate(version)  # writes the output vectors (recommender.behaviour.item_vectors)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        ModelVersion.objects.filter(pk=version.pk).update(message=f"Activation failed: {type(exc).__name__}: {exc}")
        raise
    return ProductVector.objects.filter(version=version).count()
