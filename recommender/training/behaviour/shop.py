"""This shop's behaviour data: every shopper's event sequence over the serving encoder's product vectors.

    data = load_shop(behaviour_config())      # SequenceData: item keys, fused vectors, sequences, types
    split = leave_one_out(data.sequences, data.types)

What :func:`recommender.training.behaviour.train.train_behaviour` trains on and
:func:`recommender.training.behaviour.shop_evaluation.run_evaluation` evaluates on.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np

from recommender.behaviour.codes import EVENT_TYPES
from recommender.models import Event, ModelVersion, ProductVector
from recommender.training.behaviour.data import SequenceData
from recommender.versions import serving_version

__all__ = ["load_shop"]


def load_shop(
    cfg: dict[str, Any], encoder_version: ModelVersion | None = None, *, until: datetime | None = None
) -> SequenceData:
    """Event sequences of every user/session and the encoder version's fused product vectors.

    ``until``: only events before it (the served evaluation trains on what a shop had at a cut).

    Items are the products with a fused vector in ``encoder_version`` (default: the serving one),
    with their stored prices (what the buy-again ranker reads, as serving does).
    Consecutive repeats of one product (a view then its add-to-cart) collapse into the last event.
    """
    version = encoder_version or serving_version()
    if version is None:
        raise ValueError("No active encoder version: run recommender_reindex first.")
    rows = ProductVector.objects.filter(version=version, embedding__isnull=False).order_by("product_key")
    keys, vectors, prices = [], [], []
    for key, vector, price in rows.values_list("product_key", "embedding", "price"):
        keys.append(key)
        vectors.append(np.asarray(vector, dtype=np.float32))
        prices.append(float(price) if price is not None else np.nan)
    if not keys:
        raise ValueError(f"Encoder version {version.pk} has no product vectors.")
    index = {key: i for i, key in enumerate(keys)}
    events = (
        Event.objects.filter(type__in=cfg["event_types"])
        .exclude(product_key="")
        .order_by("created_at", "pk")
        .values_list("user_id", "session_key", "product_key", "type", "created_at")
    )
    if until is not None:
        events = events.filter(created_at__lt=until)
    owners: dict[str, tuple[list[int], list[int], list[float]]] = defaultdict(lambda: ([], [], []))
    for user_id, session_key, key, type_, created in events.iterator():
        if key not in index:
            continue
        owner = f"u{user_id}" if user_id is not None else f"s{session_key}"
        items, types, times = owners[owner]
        if items and items[-1] == index[key]:
            types[-1] = max(types[-1], EVENT_TYPES[type_])
            times[-1] = created.timestamp()
            continue
        items.append(index[key])
        types.append(EVENT_TYPES[type_])
        times.append(created.timestamp())
    # One product is enough: a time split validates what such a shopper bought next.
    users = list(owners)
    limit = int(cfg["max_events_per_user"])
    return SequenceData(
        keys,
        np.stack(vectors),
        [owners[u][0][-limit:] for u in users],
        [owners[u][1][-limit:] for u in users],
        users,
        {"dataset": "shop", "encoder_version": version.pk},
        [owners[u][2][-limit:] for u in users],
        np.asarray(prices, dtype=np.float64),
    )
