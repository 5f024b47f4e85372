"""Result caching: which changes invalidate cached recommendations and which share them.

The shop is conftest's ``vector_shop``: 12 products in 4 families with hand-made 4-d vectors
(one axis per family), so every expected ranking can be worked out on paper; the encoder path
is covered in test_indexing.py.
"""

from __future__ import annotations

import pytest

from recommender.behaviour.purchase_policy import excludes_purchased
from recommender.events import record_event
from recommender.models import RecommenderSettings
from recommender.recommend import recommend
from tests.factories import names

pytestmark = pytest.mark.django_db


def test_product_slots_are_cached_across_shoppers_and_purchases(vector_shop, user, monkeypatch):
    """Similar products are about the product: one cache entry serves every shopper; a page view
    does not invalidate it, and a purchase only drops the bought product from that shopper's
    results (the entry holds spare results for that), it computes nothing again."""
    from recommender import strategies

    runs = []
    similar = strategies.STRATEGIES["similar"]
    monkeypatch.setitem(strategies.STRATEGIES, "similar", lambda ctx: runs.append(ctx) or similar(ctx))
    assert RecommenderSettings.get().cache_seconds > 0 and excludes_purchased(RecommenderSettings.get())

    first = names(recommend("similar", product_key=vector_shop["dress-a"], user=user, limit=3), vector_shop)
    record_event("view", user=user, product_key=vector_shop["dress-a"])  # the product page records a view
    again = names(recommend("similar", product_key=vector_shop["dress-a"], user=user, limit=3), vector_shop)
    anonymous = names(
        recommend("similar", product_key=vector_shop["dress-a"], session_key="tab-1", limit=3), vector_shop
    )
    assert first == again == anonymous and len(runs) == 1

    record_event("purchase", user=user, product_key=vector_shop[first[0]])
    after = names(recommend("similar", product_key=vector_shop["dress-a"], user=user, limit=3), vector_shop)
    assert len(runs) == 1 and first[0] not in after and len(after) == 3
    # Other shoppers keep the shared entry, with the product the user bought.
    assert (
        names(recommend("similar", product_key=vector_shop["dress-a"], session_key="tab-1", limit=3), vector_shop)
        == first
    )
    assert len(runs) == 1
