"""Recording that a shopper was shown a variant: one INSERT per rendered experiment slot.

``recommend()`` calls :func:`record_exposure` where it counts the slot's impressions. The row is
the only per-request work of an experiment: clicks, add-to-carts and purchases are joined to
exposures later, from the stored events (``attribution.py``).
"""

from __future__ import annotations

from typing import Any

from recommender.experiments.assignment import VariantChoice
from recommender.models import Exposure

__all__ = ["record_exposure"]


def record_exposure(choice: VariantChoice, slot: str, *, user_id: Any, session_key: str, products: int) -> None:
    """Store one exposure of ``choice`` (nothing for previews, promoted winners and fallbacks)."""
    if not choice.record or products <= 0:
        return
    Exposure.objects.create(
        experiment_id=choice.experiment_id,
        variant_id=choice.variant_id,
        slot=slot[:64],
        user_id=user_id,
        session_key=session_key[:64],
        products=min(products, 32767),
    )
