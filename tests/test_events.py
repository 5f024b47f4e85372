"""Recording events: validation of every field, clean storage, per-slot click and conversion counts.

The shop is conftest's ``vector_shop``: 12 products in 4 families with hand-made 4-d vectors
(one axis per family), so every expected ranking can be worked out on paper; the encoder path
is covered in test_indexing.py.
"""

from __future__ import annotations

import pytest

from recommender.events import EventError, record_event
from recommender.models import Event, SlotStat
from recommender.recommend import recommend

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"type": "like", "product_key": "1"}, "type"),
        ({"type": "view"}, "product_id"),
        ({"type": "view", "product_key": "999999"}, "product_id"),
        ({"type": "view", "product_key": "abc"}, "product_id"),
        ({"type": "search", "query": "   "}, "query"),
        ({"type": "purchase", "product_key": "PK", "quantity": 0}, "quantity"),
        ({"type": "search", "query": "x", "result_count": -1}, "result_count"),
        ({"type": "search", "query": "x", "result_count": 2**40}, "result_count"),
        ({"type": "view", "product_key": "a\x00b"}, "product_id"),
    ],
)
def test_bad_events_name_the_field(vector_shop, kwargs, field):
    kwargs = {**kwargs, "product_key": vector_shop["dress-a"]} if kwargs.get("product_key") == "PK" else kwargs
    with pytest.raises(EventError) as exc:
        record_event(session_key="s1", **kwargs)
    assert exc.value.field == field
    assert Event.objects.count() == 0


def test_event_without_shopper_is_refused(vector_shop):
    with pytest.raises(EventError, match="user or an anonymous session"):
        record_event("view", product_key=vector_shop["dress-a"])


def test_huge_query_is_truncated_not_refused(vector_shop):
    event = record_event("search", session_key="s1", query="dress " * 5000, result_count=3)
    assert len(event.query) == 500


def test_nul_characters_are_dropped_not_a_database_error(vector_shop):
    event = record_event("search", session_key="s\x00", query="red\x00coat", slot="api\x00", result_count=1)
    event.refresh_from_db()
    assert (event.query, event.slot) == ("red coat", "api")
    assert recommend("similar", product_key="1\x00").items == []
    assert recommend("trending", slot="x\x00", record_impression=True) is not None


def test_click_and_conversion_are_counted_per_slot(vector_shop, user):
    SlotStat.bump("home", "for_you", impressions=4)  # the slot was shown: its clicks may count
    record_event("click", user=user, product_key=vector_shop["coat-a"], slot="home", strategy="for_you")
    record_event("purchase", user=user, product_key=vector_shop["coat-a"])
    record_event("purchase", user=user, product_key=vector_shop["bag-a"])  # never clicked
    stat = SlotStat.objects.get(slot="home", strategy="for_you")
    assert (stat.clicks, stat.conversions) == (1, 1)


def test_of_shopper_names_a_users_or_a_sessions_history(vector_shop, user):
    record_event("view", session_key="anon-1", product_key=vector_shop["dress-a"])
    record_event("purchase", user=user, product_key=vector_shop["coat-a"])
    record_event("view", user=user, product_key=vector_shop["bag-a"])
    record_event("search", user=user, query="red coat", result_count=2)
    mine = Event.objects.of_shopper(user.pk, "")
    assert mine.count() == 3 and Event.objects.of_shopper(None, "anon-1").count() == 1
    assert not Event.objects.of_shopper(None, "").exists()  # neither: nobody's history
    assert mine.purchased_keys() == {vector_shop["coat-a"]}
    assert mine.product_history(["view", "purchase"], 5) == [
        (vector_shop["bag-a"], "view"),
        (vector_shop["coat-a"], "purchase"),
    ]
