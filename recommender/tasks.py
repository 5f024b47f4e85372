"""Celery tasks: thin, named wrappers over plain functions (which the tests also call).

The host project owns the Celery app (see ``tasks/celery.py`` in this repository);
these are ``shared_task``s so they bind to whatever app the host runs. Tasks take product
keys, re-read everything inside, and are idempotent, so ``acks_late`` redelivery after a
worker crash repeats work without duplicating rows. Embedding tasks go to Celery's default
queue, which the documented ``celery -A <project> worker`` consumes; naming a queue in
``RECOMMENDER["EMBEDDINGS_QUEUE"]`` sends them there instead, so GPU workers can be dedicated to it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

from celery import shared_task
from django.db import DatabaseError

from recommender import dispatch, indexing, neighbours, product_sync
from recommender.conf import app_settings
from recommender.experiments import bandit
from recommender.training.tasks import (  # noqa: F401 - registers recommender.train_behaviour and .activate_behaviour
    activate_behaviour_task,
    train_behaviour_task,
)

logger = logging.getLogger(__name__)

# Retry on database hiccups (a restarting server); encoder or data bugs are not retried.
RETRY = {"autoretry_for": (DatabaseError,), "retry_backoff": True, "retry_backoff_max": 300, "max_retries": 8}


@shared_task(name="recommender.sync_product_fields", acks_late=True, reject_on_worker_lost=True)
def sync_product_fields(keys: list[str]) -> int:
    """Refresh filter fields (stock, price, category) of stored vectors."""
    return product_sync.sync_product_fields(keys)


@shared_task(name="recommender.embed_products", acks_late=True, reject_on_worker_lost=True, **RETRY)
def embed_products(keys: list[str], version_ids: list[int] | None = None, force: bool = False) -> dict:
    """Embed these products into the given versions (default: active + building)."""
    from recommender.models import ModelVersion

    versions = list(ModelVersion.objects.filter(pk__in=version_ids)) if version_ids else None
    report = indexing.embed_products(keys, versions, force=force)
    return {"embedded": report.embedded, "skipped": report.skipped, "failed": report.failed, "removed": report.removed}


@shared_task(name="recommender.reindex", acks_late=True, reject_on_worker_lost=True)
def reindex(version_id: int | None = None, force: bool = False) -> dict:
    """Queue the whole catalog in batches (on ``EMBEDDINGS_QUEUE`` when one is set)."""
    from recommender.models import ModelVersion

    version = ModelVersion.objects.get(pk=version_id) if version_id else None
    report = indexing.reindex(version, force=force, run_async=True)
    return {"batches": report.batches, "queued": report.queued, "removed": report.removed}


@shared_task(name="recommender.embed_pending", acks_late=True)
def embed_pending() -> dict:
    """Beat: catch up products queued while the broker was down."""
    report = indexing.embed_pending()
    return {"embedded": report.embedded, "failed": report.failed}


def embeddings_routing() -> dict[str, str]:
    """``apply_async`` options for embedding work: the named queue, or none (Celery's routing).

    Without ``EMBEDDINGS_QUEUE`` the host's ``task_routes`` / default queue decide, so a plain
    worker takes the work; with it, only workers started with ``-Q <that queue>`` do.
    """
    queue = app_settings.EMBEDDINGS_QUEUE
    return {"queue": queue} if queue else {}


def enqueue_embedding(keys: Sequence[str], *, version_ids: list[int] | None = None, force: bool = False) -> bool:
    """Send an embedding task; when the broker is down, mark the rows pending instead.

    Returns whether the task was sent. Pending rows keep their previous vector serving and are
    picked up by ``recommender.embed_pending`` (beat) or the next reindex: nothing is lost.
    """
    keys = list(keys)
    return dispatch.send(
        embed_products,
        args=[keys, version_ids, force],
        what=f"embedding {len(keys)} products (marked pending)",
        on_unavailable=partial(indexing.mark_pending, keys, version_ids),
        **embeddings_routing(),
    )


@shared_task(name="recommender.train_encoder", acks_late=False)
def train_encoder(options: dict | None = None, activate: bool = False) -> int:
    """Train the catalog CLIP (options as for ``recommender_train_encoder``); returns the version id.

    Not acked late: a training run killed halfway should be started again on purpose, not
    silently redelivered.
    """
    from recommender.training.encoder import train_encoder as train  # torch: only in the worker

    version = train(progress=False, **(options or {}))
    if activate:
        indexing.build_and_switch(version, run_async=True)
    return version.pk


@shared_task(name="recommender.update_profile", acks_late=True, reject_on_worker_lost=True, **RETRY)
def update_profile(user_id: int | None = None, session_key: str = "") -> bool:
    """Recompute one shopper's profile right after their event (none for a user who opted out)."""
    from recommender.profiles import update_profile as update

    return update(user_id, session_key) is not None


@shared_task(name="recommender.rebuild_profiles", acks_late=True)
def rebuild_profiles(days: float | None = 90) -> int:
    """Beat: rebuild the profiles of everyone active in the last ``days``."""
    from recommender.profiles import rebuild_profiles as rebuild

    return rebuild(days)


@shared_task(name="recommender.process_pending_events", acks_late=True)
def process_pending_events() -> int:
    """Beat: update profiles of shoppers whose events were stored while the broker was down."""
    from recommender.profiles import rebuild_profiles as rebuild

    return rebuild(None, only_unprocessed=True)


def enqueue_profile_update(user_id: int | None, session_key: str, *, in_request: bool = True) -> bool:
    """Queue a profile update; with the broker down the events stay unprocessed for beat
    (``recommender.process_pending_events``).

    ``in_request=False`` (a page view): without a broker (eager Celery) the update does not run
    in the caller either; the events stay unprocessed for the next "for you" read
    (``profiles.get_profile_vector``) or beat, and False is returned."""
    if not in_request and update_profile.app.conf.task_always_eager:
        return False
    return dispatch.send(update_profile, args=[user_id, session_key], what="a profile update")


@shared_task(name="recommender.prune_events", acks_late=True)
def prune_events() -> int:
    """Beat: retention — delete events older than ``RECOMMENDER["EVENT_RETENTION_DAYS"]``."""
    from recommender.privacy import prune_events as prune

    days = app_settings.EVENT_RETENTION_DAYS
    return prune(days) if days else 0


@shared_task(name="recommender.refresh_neighbours", acks_late=True)
def refresh_neighbours(kinds: list[str] | None = None) -> dict[str, int]:
    """Beat: recount "bought together" and "also viewed" from the events; returns pairs kept per kind."""
    return {report.kind: report.pairs for report in neighbours.refresh_neighbours(kinds)}


@shared_task(name="recommender.update_bandits", acks_late=True)
def update_bandits() -> int:
    """Beat: recompute the traffic shares of running bandit experiments (``experiments/bandit.py``)."""
    return bandit.update_bandits()


from recommender import tasks_search  # noqa: F401 - registers recommender.refresh_suggestions
