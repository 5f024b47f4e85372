"""Merchandising rules: exclude, boost, bury and pin, per slot and within their dates.

The shop is conftest's ``vector_shop``: 12 products in 4 families with hand-made 4-d vectors
(one axis per family), so every expected ranking can be worked out on paper; the encoder path
is covered in test_indexing.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from recommender.models import MerchandisingRule
from recommender.recommend import recommend
from tests.factories import names

pytestmark = pytest.mark.django_db


def test_rules_exclude_boost_bury_pin_per_slot_and_window(vector_shop, django_capture_on_commit_callbacks):
    base = names(recommend("similar", product_key=vector_shop["dress-a"], limit=5, slot="product"), vector_shop)
    assert base[0] == "dress-b"
    with django_capture_on_commit_callbacks(execute=True):  # saving rules forgets cached results on commit
        _create_rules(vector_shop)
    got = names(recommend("similar", product_key=vector_shop["dress-a"], limit=5, slot="product"), vector_shop)
    assert got[0] == "bag-b" and "dress-b" not in got and "shoes-a" != got[0]
    assert not any(n.startswith("coat") for n in got[:3])
    other_slot = names(recommend("similar", product_key=vector_shop["dress-a"], limit=5, slot="home"), vector_shop)
    assert other_slot[0] != "bag-b"  # the pin is for the product slot only


def _create_rules(vector_shop):
    MerchandisingRule.objects.create(
        name="no b", action="exclude", target="product", product_key=vector_shop["dress-b"]
    )
    MerchandisingRule.objects.create(
        name="pin bag", action="pin", target="product", product_key=vector_shop["bag-b"], slot="product"
    )
    MerchandisingRule.objects.create(name="bury coats", action="bury", target="category", category="coat", strength=100)
    MerchandisingRule.objects.create(
        name="expired",
        action="pin",
        target="product",
        product_key=vector_shop["shoes-a"],
        ends_at=timezone.now() - timedelta(days=1),
    )


def test_enabled_rules_are_read_once_and_every_change_is_seen_at_once(vector_shop, admin_client):
    """rules_in_window() caches the enabled rules under the global generation: no query while
    nothing changes; a save, a delete and the admin's bulk enable/disable (a queryset update,
    which sends no signal) are each seen by the next call; a window is checked at each call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommender.rules import rules_in_window

    rule = MerchandisingRule.objects.create(
        name="pin", action="pin", target="product", product_key=vector_shop["bag-b"]
    )
    assert [r.pk for r in rules_in_window()] == [rule.pk]
    with CaptureQueriesContext(connection) as captured:
        assert [r.pk for r in rules_in_window()] == [rule.pk]
    assert not [q for q in captured.captured_queries if "merchandisingrule" in q["sql"]]
    changelist = "/admin/recommender/merchandisingrule/"
    admin_client.post(changelist, {"action": "disable_rules", "_selected_action": [rule.pk]})
    assert rules_in_window() == []
    admin_client.post(changelist, {"action": "enable_rules", "_selected_action": [rule.pk]})
    assert [r.pk for r in rules_in_window()] == [rule.pk]
    rule.ends_at = timezone.now() + timedelta(hours=1)
    rule.save()
    assert rules_in_window(timezone.now() + timedelta(hours=2)) == []  # ended, without a new read
    rule.delete()
    assert rules_in_window() == []
