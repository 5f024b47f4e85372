"""Offline training of encoders, kept apart from the serving code in ``recommender.encoders``.

Usage::

    from recommender.training import train_catalog_clip

    result = train_catalog_clip(pairs, "var/models/catalog-clip")

Importing this package needs torch, open_clip and timm (the ``clip`` extra).
"""

from __future__ import annotations

from .catalog_clip import TrainingResult, train_catalog_clip
from .metrics import retrieval_recalls

__all__ = ["TrainingResult", "retrieval_recalls", "train_catalog_clip"]
