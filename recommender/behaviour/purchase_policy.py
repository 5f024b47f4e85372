"""Whether recommendations leave out what the shopper already bought: the owner's choice, or the data's.

    excludes_purchased(RecommenderSettings.get())     # True: purchased products are left out
    repurchase_rate()                                  # measured share of repeat purchases, or None

``RecommenderSettings.exclude_purchased`` is a tri-state. True and False are the shop owner's
explicit choice. None ("auto") follows the repurchase rate that training measured on the shop's
events (``metrics["repurchase_rate"]`` of the active behaviour version): where re-buying is
common (fashion basics, groceries) a shopper's own purchases are the strongest signal and "for
you" offers them again ("Buy again"); elsewhere, and before any behaviour model has measured it,
purchases are left out, as they always were by default.
"""

from __future__ import annotations

import math

from recommender.conf import app_settings
from recommender.models import ModelVersion, RecommenderSettings

__all__ = ["excludes_purchased", "repurchase_rate"]


def repurchase_rate(version: ModelVersion | None = None) -> float | None:
    """The share of purchases that repeat one of the shopper's earlier purchases, as measured when
    ``version`` (default: the active behaviour version) was trained; None when unmeasured."""
    version = version or ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR)
    if version is None:
        return None
    try:
        rate = float((version.metrics or {})["repurchase_rate"])
    except (KeyError, TypeError, ValueError):
        return None
    return rate if math.isfinite(rate) and 0.0 <= rate <= 1.0 else None


def excludes_purchased(settings: RecommenderSettings) -> bool:
    """The owner's explicit choice, else (auto) True unless the measured rate reaches the setting."""
    if settings.exclude_purchased is not None:
        return bool(settings.exclude_purchased)
    rate = repurchase_rate()
    return rate is None or rate < float(app_settings.BUY_AGAIN_MIN_REPURCHASE_RATE)
