"""Signals the app sends, so lower layers tell higher ones what happened without importing them.

    from recommender.signals import version_activating
    version_activating.connect(receiver, dispatch_uid="...")    # receiver(sender, version, **kwargs)

Receivers are connected in ``RecommenderConfig.ready()`` (e.g. :mod:`recommender.behaviour.receivers`).
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["products_embedded", "version_activating"]

version_activating = Signal()
"""Sent by :func:`recommender.versions.activate` with ``version`` (a ``ModelVersion`` now marked
active), inside its transaction: a receiver that raises rolls the activation back, so the old
version keeps serving. The behaviour model writes its product output vectors here."""

products_embedded = Signal()
"""Sent by :func:`recommender.indexing.embed_products` with ``version`` (the encoder version) and
``keys`` (the products whose fused vectors were just stored). Receivers must not raise: the
embedding itself succeeded and must not be lost."""
