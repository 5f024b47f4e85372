"""Celery tasks of search: rebuild the suggestion phrases (beat, and once on first use).

A thin, named wrapper (``recommender.refresh_suggestions``) over the plain function the tests
call too. Imported from ``recommender/tasks.py`` so the host's ``autodiscover_tasks()`` registers
it; scheduled by ``recommender_setup_beat``. The query log's retention is ``prune_events``'
(``EVENT_RETENTION_DAYS``).
"""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

# A shopper's request must not hang on a dead broker (same policy as recommender.tasks).
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


@shared_task(name="recommender.refresh_suggestions", acks_late=True)
def refresh_suggestions() -> dict[str, int]:
    """Beat: rebuild the suggestion phrases from the query log and the catalog (idempotent)."""
    from recommender.search.phrases import refresh_suggestions as refresh

    return refresh()


def enqueue_refresh() -> bool:
    """Queue a rebuild; False (logged) when the broker is unreachable."""
    try:
        refresh_suggestions.apply_async(retry_policy=PUBLISH_RETRY)
        return True
    except Exception as exc:  # kombu raises many types for an unreachable broker
        if refresh_suggestions.app.conf.task_always_eager:
            raise
        logger.warning("Suggestion refresh not queued (%s); beat will build them.", exc)
        return False
