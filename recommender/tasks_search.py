"""Celery tasks of search: rebuild the suggestion phrases (beat, and once on first use).

A thin, named wrapper (``recommender.refresh_suggestions``) over the plain function the tests
call too. Imported from ``recommender/tasks.py`` so the host's ``autodiscover_tasks()`` registers
it; scheduled by ``recommender_setup_beat``. The query log's retention is ``prune_events``'
(``EVENT_RETENTION_DAYS``).
"""

from __future__ import annotations

from celery import shared_task

from recommender import dispatch


@shared_task(name="recommender.refresh_suggestions", acks_late=True)
def refresh_suggestions() -> dict[str, int]:
    """Beat: rebuild the suggestion phrases from the query log and the catalog (idempotent)."""
    from recommender.search.phrases import refresh_suggestions as refresh

    return refresh()


def enqueue_refresh() -> bool:
    """Queue a rebuild; False (logged) when the broker is unreachable: beat builds them later."""
    return dispatch.send(refresh_suggestions, what="the suggestion refresh")
