"""Signal wiring for search: clicks and purchases mark the search that led to them.

Call :func:`connect` once at start-up (``RecommenderConfig.ready()``); it is idempotent. Every
path that records events (``record_event``, the REST endpoint, the beacon) saves an ``Event``,
so one ``post_save`` receiver sees them all.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

__all__ = ["connect", "event_saved"]

DISPATCH_UID = "recommender.search.outcome"


def event_saved(sender: Any, instance: Any, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw:
        return
    from recommender.search.querylog import mark_outcome

    mark_outcome(instance)


def connect() -> None:
    """Connect the receivers (safe to call more than once)."""
    from recommender.models import Event

    post_save.connect(event_saved, sender=Event, dispatch_uid=DISPATCH_UID)
