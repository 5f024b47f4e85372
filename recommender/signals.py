"""Signals the app sends, so lower layers can announce work without importing the layers that react.

    from recommender.signals import products_indexed
    products_indexed.connect(handler)     # handler(sender, version, keys, **kwargs)

Each signal's ``sender`` is :class:`recommender.models.ModelVersion`; receivers are connected in
``recommender/receivers.py`` (``RecommenderConfig.ready()``). A receiver must not break the
embedding pipeline: it sends with :func:`send_logged`, which logs what a receiver raised.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

__all__ = ["catalog_indexed", "products_indexed", "send_logged", "vocabulary_missing"]

logger = logging.getLogger(__name__)

products_indexed = Signal()
"""Vectors of some products were (re)written in a version: ``version``, ``keys`` (product keys).

Sent by the embedding pipeline (``indexing.embed_products``: product saves, reindex batches,
pending catch-up) after each batch is stored. Search adds the products' words to its spelling
vocabulary and their names to the suggestions when ``version`` serves.
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


def send_logged(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` to every receiver; one that raises is logged and the others still run."""
    for receiver, response in signal.send_robust(sender=sender, **kwargs):
        if isinstance(response, Exception):
            logger.error("Signal receiver %r failed: %s", receiver, response, exc_info=response)
