"""Cached recommendations follow the catalogue at once (issue 14, item 4).

A stock, sellability, price or category change reaches the stored rows through the real path
(the host saves the product -> receivers -> embedding task, eager here -> field sync or
re-embedding) and must leave every cached result that holds the product: through the
catalogue generation (the next request recomputes a full list) and, for stock and
sellability, through the re-check of every cache hit.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from recommender.events import record_event
from recommender.models import ProductVector, RecommenderSettings
from recommender.recommend import recommend
from tests.foreign_shop import foreign_settings, foreign_shop  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _save(item, capture, **fields) -> None:
    """The host saves the item; its after-commit embedding task runs (eagerly) at once."""
    with capture(execute=True):
        for name, value in fields.items():
            setattr(item, name, value)
        item.save()


def _api_similar(client, item, limit: int) -> list[str]:
    url = reverse("recommender_api:similar", args=[str(item.sku)])
    response = client.get(url, {"limit": limit})
    assert response.status_code == 200, response.content
    return [row["product_id"] for row in response.json()["results"]]


@pytest.mark.parametrize("change", [{"stock_count": 0}, {"listed": False}], ids=["sold-out", "unlisted"])
def test_a_product_that_goes_off_sale_leaves_cached_results_at_once(
    foreign_shop,  # noqa: F811
    change,
    client,
    django_capture_on_commit_callbacks,
):
    assert RecommenderSettings.get().cache_seconds > 0  # the cache is on (300 s by default)
    audrey, wrap = foreign_shop["AUDREY DRESS"], foreign_shop["Wrap dress"]
    key = str(wrap.sku)
    for session in ("s1", "s2", "s3"):  # a bestseller: trending puts it first
        record_event("purchase", session_key=session, product_key=key)
    record_event("view", session_key="shopper", product_key=str(audrey.sku))
    others = len(foreign_shop) - 1

    def served() -> dict[str, list[str]]:
        return {
            "api similar": _api_similar(client, audrey, others),
            "similar": recommend("similar", product_key=str(audrey.sku), limit=others).keys,
            "trending": recommend("trending", limit=3).keys,
            "for you": recommend("for_you", session_key="shopper", limit=others).keys,
        }

    before = served()
    assert all(key in keys for keys in before.values()), before
    assert served() == before  # now cached

    _save(wrap, django_capture_on_commit_callbacks, **change)
    assert ProductVector.objects.get(product_key=key).sellable is ("listed" not in change)

    after = served()
    assert all(key not in keys for keys in after.values()), after
    # Recomputed, not just filtered: the next product takes the free place.
    assert len(after["similar"]) == len(after["api similar"]) == others - 1


def test_a_cache_hit_is_rechecked_against_stock_before_it_is_served(foreign_shop):  # noqa: F811
    """Even when nothing bumps a generation (the row changed under the cache), a hit never
    serves a product that is out of stock now; positions are renumbered."""
    audrey, wrap = foreign_shop["AUDREY DRESS"], foreign_shop["Wrap dress"]
    first = recommend("similar", product_key=str(audrey.sku), limit=4)
    assert str(wrap.sku) in first.keys
    ProductVector.objects.filter(product_key=str(wrap.sku)).update(in_stock=False)  # no signal, no bump

    hit = recommend("similar", product_key=str(audrey.sku), limit=4)
    # The others keep their order; a spare of the shared entry may take the freed place.
    kept = [k for k in first.keys if k != str(wrap.sku)]
    assert str(wrap.sku) not in hit.keys and hit.keys[: len(kept)] == kept
    assert [r.position for r in hit] == list(range(1, len(hit) + 1))


def test_a_category_change_leaves_cached_category_results(foreign_shop, django_capture_on_commit_callbacks):  # noqa: F811
    """A new category changes the product's text: it is re-embedded, and cached results of its
    old category go too."""
    audrey, slip = foreign_shop["AUDREY DRESS"], foreign_shop["Slip dress"]
    dresses = recommend("similar", product_key=str(audrey.sku), categories=["Dresses"], limit=5).keys
    assert str(slip.sku) in dresses
    tops = foreign_shop["Linen shirt"].section
    _save(slip, django_capture_on_commit_callbacks, section=tops)
    assert ProductVector.objects.get(product_key=str(slip.sku)).category == "Tops"

    assert str(slip.sku) not in recommend("similar", product_key=str(audrey.sku), categories=["Dresses"], limit=5).keys
    assert str(slip.sku) in recommend("similar", product_key=str(audrey.sku), categories=["Tops"], limit=5).keys


def test_changes_that_alter_nothing_stored_keep_the_cache(
    foreign_shop,  # noqa: F811
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    """Selling one of several pieces (a count from 5 to 4) changes no stored field: cached
    results stay; a price change (price rules read it) does not."""
    from recommender import strategies

    runs = []
    similar = strategies.STRATEGIES["similar"]
    monkeypatch.setitem(strategies.STRATEGIES, "similar", lambda ctx: runs.append(ctx) or similar(ctx))
    audrey, wrap = foreign_shop["AUDREY DRESS"], foreign_shop["Wrap dress"]

    def ask() -> list[str]:
        return recommend("similar", product_key=str(audrey.sku), limit=3).keys

    first = ask()
    _save(wrap, django_capture_on_commit_callbacks, stock_count=4)
    assert ask() == first and len(runs) == 1
    _save(wrap, django_capture_on_commit_callbacks, cost_cents=2500)
    assert ask() == first and len(runs) == 2
