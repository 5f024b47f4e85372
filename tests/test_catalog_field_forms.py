"""Issue 14, item 6: a shop with prices in cents and no get_absolute_url() needs no adapter subclass.

The foreign shop (UUID ``sku``, ``cost_cents``, ``stock_count``, ``section.title``) is configured
with FIELDS alone; its prices must be right everywhere the app reads them: the vector rows that
filters use, the API, search facets and filters, and merchandising rules by price range. Real
tiny encoder, real pgvector, real images.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.template import Context, Template
from django.test import RequestFactory, override_settings

from recommender.catalog import FieldMapAdapter, get_adapter
from recommender.indexing import reindex
from recommender.models import MerchandisingRule, ProductVector
from recommender.product_sync import sync_product_fields
from recommender.recommend import recommend
from recommender.search import SearchFilters, search
from recommender.storage import VectorFilter, nearest
from recommender.versions import serving_version
from tests.factories import jpeg_bytes
from tests.foreignshop.models import FOREIGN_SHOP_RECOMMENDER, Item, Section

pytestmark = pytest.mark.django_db

# headline, blurb, section, cost in cents, stock, rgb
ITEMS = [
    ("Jersey dress", "Short dress in soft cotton jersey", "Dress", 1999, 4, (20, 20, 20)),
    ("Wrap dress", "Calf-length wrap dress in a viscose weave", "Dress", 4500, 2, (120, 20, 30)),
    ("Silk evening dress", "Long evening dress in pure silk", "Dress", 12900, 1, (20, 30, 90)),
    ("Sculpting leggings", "Leggings in stretch jersey with a high waist", "Leggings/Tights", 2499, 9, (15, 15, 15)),
    ("Wool coat", "Long coat in a wool blend with notch lapels", "Coat", 25000, 3, (200, 180, 150)),
    ("Sold-out dress", "Short dress in red jersey", "Dress", 999, 0, (200, 20, 20)),
]


def price_in_euros(product):
    """A "module:function" price."""
    return Decimal(product.cost_cents) / 100


def _items() -> dict[str, Item]:
    sections = {}
    items = {}
    for headline, blurb, section, cents, stock, rgb in ITEMS:
        sections.setdefault(section, Section.objects.create(title=section))
        item = Item(headline=headline, blurb=blurb, section=sections[section], cost_cents=cents, stock_count=stock)
        item.picture.save(f"{headline.replace(' ', '_')}.jpg", ContentFile(jpeg_bytes(rgb)), save=False)
        item.save()
        items[headline] = item
    return items


@pytest.fixture
def foreign_settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.RECOMMENDER = FOREIGN_SHOP_RECOMMENDER
    return settings


@pytest.fixture
def foreign_shop(tiny_encoder, foreign_settings, tmp_path):
    """The foreign shop's items, embedded by the tiny encoder into an active version."""
    foreign_settings.RECOMMENDER = {
        **FOREIGN_SHOP_RECOMMENDER,
        "ENCODER": tiny_encoder,
        "MODEL_DIR": str(tmp_path / "models"),
    }
    items = _items()
    reindex()
    return items


def euros(item: Item) -> Decimal:
    return Decimal(item.cost_cents) / 100


# --- the adapter -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "price",
    [
        ("cost_cents", "0.01"),
        ("cost_cents", 0.01),
        lambda product: product.cost_cents / 100,
        "tests.test_catalog_field_forms:price_in_euros",
    ],
)
def test_every_price_form_reads_the_price_in_euros(foreign_settings, price):
    item = Item.objects.create(headline="Tee", section=Section.objects.create(title="Tops"), cost_cents=1999)
    adapter = FieldMapAdapter(fields={"price": price})
    assert adapter.price(item) == Decimal("19.99")
    assert adapter.price(Item(headline="free", cost_cents=0)) == Decimal(0)


def test_field_map_reads_the_foreign_shop_without_a_subclass(foreign_settings):
    section = Section.objects.create(title="Leggings/Tights")
    item = Item.objects.create(headline="Leggings", blurb="Stretch", section=section, cost_cents=2499, stock_count=0)
    bare = Item.objects.create(headline="Bare", cost_cents=100, stock_count=3)  # no section
    adapter = get_adapter()
    assert (adapter.title(item), adapter.category(item), adapter.price(item)) == (
        "Leggings",
        "Leggings/Tights",
        Decimal("24.99"),
    )
    assert adapter.in_stock(item) is False and adapter.in_stock(bare) is True
    assert adapter.category(bare) == "" and adapter.price(bare) == Decimal("1.00")
    assert adapter.url(item) == f"/store/items/{item.pk}/"


def test_url_forms_and_a_url_that_does_not_reverse_is_logged_not_raised(foreign_settings, caplog):
    section = Section.objects.create(title="Hat/beanie")
    item = Item.objects.create(headline="Beanie", section=section)
    kwargs = FieldMapAdapter(fields={"url": ("store:item_in_section", {"sku": "pk", "section": "section.title"})})
    assert kwargs.url(item) == f"/store/sections/Hat/beanie/items/{item.pk}/"
    assert FieldMapAdapter(fields={"url": lambda p: f"/p/{p.pk}"}).url(item) == f"/p/{item.pk}"
    assert FieldMapAdapter(fields={"url": None}).url(item) is None  # no get_absolute_url()
    with caplog.at_level(logging.WARNING):
        assert kwargs.url(Item.objects.create(headline="No section")) is None  # section.title is None
    assert "does not reverse" in caplog.text


# --- everywhere the price is read ------------------------------------------------------------


def test_prices_in_cents_are_right_in_rows_filters_api_facets_and_rules(foreign_shop, client):
    items = foreign_shop
    version = serving_version()
    rows = {r.product_key: r for r in ProductVector.objects.filter(version=version)}
    assert {k: r.price for k, r in rows.items()} == {str(i.pk): euros(i) for i in items.values()}
    assert rows[str(items["Sculpting leggings"].pk)].category == "Leggings/Tights"

    # Filters on the vector rows (pgvector nearest)
    query = rows[str(items["Jersey dress"].pk)].embedding
    under_50 = {k for k, _ in nearest(query, k=10, filters=VectorFilter(max_price=50))}
    assert under_50 == {str(items[n].pk) for n in ("Jersey dress", "Wrap dress", "Sculpting leggings")}

    # The API: price in euros and the shop's URL pattern
    jersey = items["Jersey dress"]
    body = client.get(f"/api/recommender/similar/{jersey.pk}/", {"limit": 10}).json()
    by_key = {str(i.pk): i for i in items.values()}
    assert body["results"]
    for row in body["results"]:
        assert Decimal(row["price"]) == euros(by_key[row["product_id"]])
        assert row["url"] == f"/store/items/{row['product_id']}/"

    # Search: the price facet counts euros, and price filters select in euros
    results = search("dress", filters=SearchFilters(in_stock=False), record=False)
    expected = {
        "Jersey dress": (0, 25),
        "Wrap dress": (25, 50),
        "Silk evening dress": (100, 200),
        "Sold-out dress": (0, 25),
    }
    assert set(results.keys) >= {str(items[n].pk) for n in expected}
    facet = {(f["min"], f["max"]): f["count"] for f in results.facets["price"]}
    for low, high in set(expected.values()):
        got = sum(1 for k in results.keys if low <= rows[k].price < high)
        assert facet[(low, high)] == got, results.facets["price"]
    assert (200, None) not in facet or facet[(200, None)] == sum(1 for k in results.keys if rows[k].price >= 200)
    reply = client.get("/api/recommender/search/", {"q": "dress", "min_price": "40", "max_price": "150"}).json()
    assert {r["product_id"] for r in reply["results"]} == {
        str(items[n].pk) for n in ("Wrap dress", "Silk evening dress")
    }
    assert all(Decimal(r["price"]) == euros(by_key[r["product_id"]]) for r in reply["results"])

    # Merchandising rules by price range are in euros
    MerchandisingRule.objects.create(name="no cheap", action="exclude", target="price_range", max_price=Decimal(30))
    kept = recommend("similar", product_key=str(items["Wrap dress"].pk), limit=10).keys
    assert kept and str(items["Silk evening dress"].pk) in kept
    assert not {str(items[n].pk) for n in ("Jersey dress", "Sculpting leggings")} & set(kept)


def test_a_price_change_reaches_the_rows_in_euros(foreign_shop):
    coat = foreign_shop["Wool coat"]
    Item.objects.filter(pk=coat.pk).update(cost_cents=17950)
    assert sync_product_fields([str(coat.pk)]) >= 1
    assert ProductVector.objects.get(product_key=str(coat.pk), version=serving_version()).price == Decimal("179.50")


def test_template_slots_link_to_the_shops_url_pattern(foreign_shop):
    jersey = foreign_shop["Jersey dress"]
    request = RequestFactory().get("/")
    request.session = {}
    html = Template("{% load recommender_tags %}{% similar_products product limit=4 %}").render(
        Context({"product": jersey, "request": request})
    )
    linked = [i for i in foreign_shop.values() if f'href="/store/items/{i.pk}/"' in html]
    assert linked, html
    assert "19.99" in html or any(f"{euros(i)}" in html for i in linked)


def test_unknown_forms_are_refused_when_the_adapter_is_built(foreign_settings):
    config = {**FOREIGN_SHOP_RECOMMENDER, "FIELDS": {"category": "section.name"}}
    with override_settings(RECOMMENDER=config), pytest.raises(ImproperlyConfigured, match="Section has no field"):
        get_adapter()


def test_relations_the_field_map_reads_are_joined_in(foreign_settings, django_assert_num_queries):
    section = Section.objects.create(title="Dress")
    keys = [str(Item.objects.create(headline=f"Dress {i}", section=section).pk) for i in range(5)]
    adapter = get_adapter()
    assert adapter.related == ["section"]
    with django_assert_num_queries(1):
        assert [adapter.category(p) for p in adapter.products_by_keys(keys)] == ["Dress"] * 5
