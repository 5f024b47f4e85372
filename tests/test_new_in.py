"""A new shop's shelves are never empty (issue 14, item 7).

With products and vectors but no events yet, trending and "for you" (anonymous and logged in)
fall back to the catalogue: its newest in-stock products, taking turns between categories, with
the reason "New in <category>"; through ``recommend()``, the template tags and the API alike.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from recommender.events import record_event
from recommender.models import Event
from recommender.recommend import recommend
from tests.factories import jpeg_bytes
from tests.foreign_shop import foreign_settings, foreign_shop  # noqa: F401 - fixtures
from tests.foreignshop.models import Item, Section

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.shop_pages")]


@pytest.fixture
def new_arrival(foreign_shop, django_capture_on_commit_callbacks) -> Item:  # noqa: F811
    """A coat the shop adds after its catalogue was indexed: saved, embedded by the worker."""
    item = Item(
        headline="Camel coat",
        blurb="a long camel coat",
        section=Section.objects.get(title="Coats"),
        cost_cents=12900,
        stock_count=2,
    )
    item.picture.save("camel_coat.jpg", ContentFile(jpeg_bytes((190, 150, 100))), save=False)
    with django_capture_on_commit_callbacks(execute=True):
        item.save()
    return item


def _category(key: str) -> str:
    return Item.objects.select_related("section").get(sku=key).section.title


def test_an_empty_shop_shows_new_in_everywhere(foreign_shop, new_arrival, django_user_model):  # noqa: F811
    assert not Event.objects.exists()
    shopper = django_user_model.objects.create_user("first-customer", password="pw")
    shelves = {
        "trending": recommend("trending", limit=4),
        "for you, anonymous": recommend("for_you", session_key="first-visit", limit=4),
        "for you, logged in": recommend("for_you", user=shopper, limit=4),
    }
    for name, recs in shelves.items():
        assert len(recs) == 4, name
        assert recs.items[0].product_key == str(new_arrival.sku), name  # the newest product first
        assert recs.items[0].reason == "New in Coats", name
        assert all(r.reason == f"New in {_category(r.product_key)}" for r in recs), [r.reason for r in recs]
        # Categories take turns: the first three come from three categories.
        assert len({_category(r.product_key) for r in recs.items[:3]}) == 3, name

    # The template tags on a home page, for a visitor and for a logged-in shopper.
    visitor, member = Client(), Client()
    member.force_login(shopper)
    for client in (visitor, member):
        html = client.get(reverse("home")).content.decode()
        assert html.count('data-rec-slot="home-trending"') == 1 and html.count('data-rec-slot="home-for-you"') == 1
        assert html.count('class="recommender-card"') == 8
        assert html.count("New in Coats") >= 2

    # The REST API.
    for client, name in ((visitor, "trending"), (visitor, "for-you"), (member, "for-you")):
        rows = client.get(reverse(f"recommender_api:{name}"), {"limit": 4}).json()["results"]
        assert len(rows) == 4 and rows[0]["product_id"] == str(new_arrival.sku)
        assert all(row["reason"].startswith("New in ") for row in rows), rows


def test_new_in_shows_only_what_can_be_bought_and_obeys_category_filters(
    foreign_shop,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    gone, hidden = foreign_shop["Wool coat"], foreign_shop["Striped top"]
    with django_capture_on_commit_callbacks(execute=True):
        gone.stock_count = 0
        gone.save()
        hidden.listed = False
        hidden.save()
    everything = recommend("trending", limit=10).keys
    assert len(everything) == len(foreign_shop) - 2
    assert str(gone.sku) not in everything and str(hidden.sku) not in everything

    tops = recommend("trending", categories=["Tops"], limit=10)
    assert tops.keys == [str(foreign_shop["Linen shirt"].sku)] and tops.items[0].reason == "New in Tops"


def test_a_shop_with_a_few_events_tops_trending_up_with_new_in(foreign_shop, new_arrival):  # noqa: F811
    wrap = foreign_shop["Wrap dress"]
    record_event("purchase", session_key="someone", product_key=str(wrap.sku))
    recs = recommend("trending", limit=4)
    assert recs.items[0].product_key == str(wrap.sku) and recs.items[0].reason == "Trending now"
    assert len(recs) == 4 and all(r.reason.startswith("New in ") for r in recs.items[1:])
    assert recs.items[1].product_key == str(new_arrival.sku)
