"""Whether recommendations leave out what the shopper already bought: the owner's choice, or the data's.

    excludes_purchased(RecommenderSettings.get())     # True: purchased products are left out
    repurchase_rate()                                  # measured share of repeat purchases, or None

``RecommenderSettings.exclude_purchased`` is a tri-state. True and False are the shop owner's
explicit choice. None ("auto") follows what training measured on the shop's events, in the
active behaviour version's metrics: purchases are offered again ("Buy again") when validation
found that blending the shopper's own purchases into "for you" ranks their next purchases better
(a positive tuned ``repurchase_weight``) and at least ``BUY_AGAIN_MIN_REPURCHASE_RATE`` of the
shop's purchases repeat an earlier one (``repurchase_rate``). The validation gain decides, not
the rate alone: on H&M fewer than 1 % of purchases repeat one, yet own purchases triple MAP@12
(bench/results/served_evaluation.md), because one re-bought article per shopper is what counts.
Before any behaviour model has measured it, purchases are left out, as they always were.
"""

from __future__ import annotations

import math
from typing import Any

from recommender.conf import app_settings
from recommender.models import ModelVersion, RecommenderSettings

__all__ = ["buy_again_measured", "excludes_purchased", "repurchase_rate"]


def _metric(version: ModelVersion, name: str) -> float | None:
    try:
        value = float((version.metrics or {})[name])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def repurchase_rate(version: ModelVersion | None = None) -> float | None:
    """The share of purchases that repeat one of the shopper's earlier purchases, as measured when
    ``version`` (default: the active behaviour version) was trained; None when unmeasured."""
    version = version or ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR)
    rate = _metric(version, "repurchase_rate") if version is not None else None
    return rate if rate is not None and 0.0 <= rate <= 1.0 else None


def buy_again_measured(version: ModelVersion | None = None) -> bool:
    """True when ``version`` (default: the active one) measured that offering purchases again helps:
    a positive tuned repurchase weight and a repurchase rate of at least the setting."""
    version = version or ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR)
    if version is None:
        return False
    rate, weight = repurchase_rate(version), _metric(version, "repurchase_weight")
    if not rate or weight is None or weight <= 0:  # no repeat purchase, or no gain from offering them
        return False
    return rate >= float(app_settings.BUY_AGAIN_MIN_REPURCHASE_RATE)


# excludes_purchased() reads the active behaviour version itself unless told it (None: none serves).
UNREAD: Any = object()


def excludes_purchased(settings: RecommenderSettings, behaviour: ModelVersion | None = UNREAD) -> bool:
    """The owner's explicit choice, else (auto) True unless training measured that buying again helps
    (``behaviour``: the active behaviour version or None, when the caller already read it)."""
    if settings.exclude_purchased is not None:
        return bool(settings.exclude_purchased)
    if behaviour is UNREAD:
        behaviour = ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR)
    return behaviour is None or not buy_again_measured(behaviour)
