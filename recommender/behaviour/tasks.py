"""Celery task of the behaviour model (import it from ``recommender.tasks`` so autodiscovery sees it).

from recommender.behaviour.tasks import train_behaviour_task   # "recommender.train_behaviour"
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

__all__ = ["train_behaviour_task"]


@shared_task(name="recommender.train_behaviour")
def train_behaviour_task(overrides: dict[str, Any] | None = None, activate: bool | None = None) -> int:
    """Train on the shop's events and register (and maybe activate) a version; returns its id."""
    from recommender.behaviour.train import train_behaviour

    return train_behaviour(overrides=overrides, activate=activate).pk
