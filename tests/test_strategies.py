"""The strategies through ``recommend()``: similar, for you, bought together, also viewed,
trending, recently viewed; category filters, impressions, unknown strategies.

The shop is conftest's ``vector_shop``: 12 products in 4 families with hand-made 4-d vectors
(one axis per family), so every expected ranking can be worked out on paper; the encoder path
is covered in test_indexing.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from recommender.events import record_event
from recommender.models import RecommenderSettings, SlotStat
from recommender.recommend import UnknownStrategy, recommend
from tests.factories import names

pytestmark = pytest.mark.django_db


def test_similar_excludes_itself_and_out_of_stock(vector_shop):
    recs = recommend("similar", product_key=vector_shop["dress-a"], limit=3)
    got = names(recs, vector_shop)
    assert got[0] == "dress-b" and "dress-a" not in got and "dress-out" not in got
    assert recs.items[0].reason == "Similar to dress-a"


def test_for_you_cold_start_is_trending_then_follows_the_profile(vector_shop, user):
    other = get_user_model().objects.create_user("other")
    for _ in range(3):
        record_event("purchase", user=other, product_key=vector_shop["bag-a"])
    cold = recommend("for_you", user=user, limit=3)
    assert names(cold, vector_shop)[0] == "bag-a" and cold.items[0].reason == "Trending now"
    record_event("view", user=user, product_key=vector_shop["coat-a"])
    warm = recommend("for_you", user=user, limit=3)  # the event invalidated the cache
    assert names(warm, vector_shop)[0] in ("coat-a", "coat-b", "coat-c")
    # Explained by coat-a, except coat-a itself: never "because you viewed" itself.
    own = {vector_shop["coat-a"]: "Picked for you"}
    assert all(r.reason == own.get(r.product_key, "Because you viewed coat-a") for r in warm.items)


def test_exclude_purchased_is_a_setting(vector_shop, user):
    record_event("purchase", user=user, product_key=vector_shop["dress-b"])
    assert "dress-b" not in names(recommend("similar", product_key=vector_shop["dress-a"], user=user), vector_shop)
    settings = RecommenderSettings.get()
    settings.exclude_purchased = False
    settings.save()
    assert "dress-b" in names(recommend("similar", product_key=vector_shop["dress-a"], user=user), vector_shop)


def test_bought_together_needs_minimum_support(vector_shop):
    users = [get_user_model().objects.create_user(f"u{i}") for i in range(3)]
    for u in users[:2]:  # two baskets with dress-a + bag-a
        record_event("purchase", user=u, product_key=vector_shop["dress-a"])
        record_event("purchase", user=u, product_key=vector_shop["bag-a"])
    record_event("purchase", user=users[2], product_key=vector_shop["dress-a"])
    record_event("purchase", user=users[2], product_key=vector_shop["shoes-a"])  # support 1 only
    recs = recommend("bought_together", product_key=vector_shop["dress-a"])
    assert names(recs, vector_shop) == ["bag-a"]


def test_also_viewed_counts_distinct_shoppers(vector_shop):
    for s in ("s1", "s2", "s3"):
        record_event("view", session_key=s, product_key=vector_shop["coat-a"])
        record_event("view", session_key=s, product_key=vector_shop["shoes-a"])
    record_event("view", session_key="s1", product_key=vector_shop["bag-a"])
    record_event("view", session_key="s2", product_key=vector_shop["bag-a"])
    assert names(recommend("also_viewed", product_key=vector_shop["coat-a"]), vector_shop) == ["shoes-a", "bag-a"]


def test_trending_decays_older_events(vector_shop):
    now = timezone.now()
    for _ in range(3):
        record_event("view", session_key="old", product_key=vector_shop["coat-a"], created_at=now - timedelta(days=5))
    record_event("view", session_key="new", product_key=vector_shop["shoes-a"], created_at=now)
    # 3 views five half-lives ago (3/32) < 1 view now
    assert names(recommend("trending"), vector_shop)[:2] == ["shoes-a", "coat-a"]


def test_recently_viewed_newest_first_distinct(vector_shop):
    now = timezone.now()
    for i, name in enumerate(["dress-a", "coat-a", "dress-a", "bag-a"]):
        record_event("view", session_key="s", product_key=vector_shop[name], created_at=now + timedelta(seconds=i))
    assert names(recommend("recently_viewed", session_key="s"), vector_shop) == ["bag-a", "dress-a", "coat-a"]


def test_category_filters_and_impressions(vector_shop):
    recs = recommend(
        "similar", product_key=vector_shop["dress-a"], categories=["shoes"], slot="pdp", record_impression=True
    )
    assert recs.keys and all(n.startswith("shoes") for n in names(recs, vector_shop))
    assert SlotStat.objects.get(slot="pdp", strategy="similar").impressions == len(recs)
    products = recs.products()
    assert [str(p.pk) for p in products] == recs.keys and products[0].recommendation.position == 1


def test_unknown_strategy_and_missing_product(vector_shop):
    with pytest.raises(UnknownStrategy):
        recommend("magic")
    assert recommend("similar", product_key="").items == []
    assert recommend("similar", product_key="424242").items == []
