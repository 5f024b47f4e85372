"""Signals the app declares, so lower layers can announce work without importing the layers that react.

    from recommender.signals import products_indexed
    products_indexed.connect(handler)     # handler(sender, version, keys, **kwargs)

Each signal's ``sender`` is the model its news is about (``ModelVersion`` for the pipeline's
signals, ``Event`` or ``Profile`` for shoppers'); receivers are connected in
``RecommenderConfig.ready()`` from ``recommender/receivers.py`` (tasks, search) and
``recommender/behaviour/receivers.py``. A receiver must not break the embedding pipeline:
it sends with :func:`send_logged`, which logs what a receiver raised.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

__all__ = [
    "catalog_indexed",
    "embedding_requested",
    "products_indexed",
    "profile_stale",
    "send_logged",
    "version_activating",
    "vocabulary_missing",
]

logger = logging.getLogger(__name__)

products_indexed = Signal()
"""Vectors of some products were (re)written in a version: ``version``, ``keys`` (product keys).

Sent by the embedding pipeline (``indexing.embed_products``: product saves, reindex batches,
pending catch-up) after each batch is stored, with the products that got a vector. Search adds
the products' words to its spelling vocabulary and their names to the suggestions when
``version`` serves; the active behaviour model writes their product output vectors
(:mod:`recommender.behaviour.receivers`).
"""

version_activating = Signal()
"""A model version is becoming the serving one: ``version`` (already marked active).

Sent by :func:`recommender.versions.activate` inside its transaction: a receiver that raises
rolls the activation back, so the old version keeps serving. The behaviour model writes its
product output vectors here.
"""

catalog_indexed = Signal()
"""A whole catalog is now in a serving version: ``version``.

Sent when a synchronous ``indexing.reindex`` finished and when an encoder version is activated
(``versions.activate``, inside its transaction). Search rebuilds its suggestion phrases and
spelling vocabulary from that version, after the transaction commits.
"""

vocabulary_missing = Signal()
"""Search found no spelling vocabulary for the serving version: ``version``.

Sent by ``search.phrases.ensure_phrases`` (a database indexed before vocabularies were built at
indexing time, or a table emptied by hand); the receiver queues a rebuild.
"""

profile_stale = Signal()
"""A shopper's events changed and their profile should follow: ``user_id`` (or None),
``session_key`` (may be empty for a logged-in user).

Sent by ``events.record_event`` after a personalising event is stored and by
``privacy.set_personalisation`` when a user opts back in. The receiver queues
``recommender.update_profile``; with the broker down the events stay unprocessed for beat.
``deferred=True`` (a page view on the shop's hot path) means: never in this request. With a
broker the task is queued as usual; without one (eager Celery) nothing runs now and the events
stay unprocessed, for the next "for you" read (``profiles.get_profile_vector``) or beat.
"""

embedding_requested = Signal()
"""Products need embedding by a worker: ``keys``, ``version_ids`` (or None: the maintained
versions), ``force``.

Sent by ``indexing.reindex(run_async=True)`` per batch. The receiver queues
``recommender.embed_products``; with the broker down it marks the rows pending for
``recommender.embed_pending``.
"""


def send_logged(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` to every receiver; one that raises is logged and the others still run."""
    for receiver, response in signal.send_robust(sender=sender, **kwargs):
        if isinstance(response, Exception):
            logger.error("Signal receiver %r failed: %s", receiver, response, exc_info=response)
