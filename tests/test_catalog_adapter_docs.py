"""docs/catalog_adapter.md's two examples run as printed, on the foreign shop (the docs' "store.Item"),
and read every product the same way."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import override_settings

from recommender import checks
from recommender.catalog import CatalogAdapter, FieldMapAdapter
from tests.foreignshop.models import Item, Section

DOC = Path(__file__).resolve().parent.parent / "docs" / "catalog_adapter.md"
METHODS = ("title", "text", "image", "category", "price", "in_stock", "url", "key")


def example(name: str) -> str:
    """The python block after ``<!-- example: name -->``."""
    match = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)\n```", DOC.read_text(), re.DOTALL)
    assert match, f"docs/catalog_adapter.md has no example {name!r}"
    return match.group(1)


def run(code: str) -> dict:
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - the docs' own code, as a reader pastes it
    return namespace


def as_foreign_shop(recommender: dict) -> dict:
    assert recommender["PRODUCT_MODEL"] == "store.Item"
    return {**recommender, "PRODUCT_MODEL": "foreignshop.Item"}


@pytest.mark.django_db
def test_the_field_map_and_the_subclass_examples_read_products_alike():
    config = as_foreign_shop(run(example("field-map"))["RECOMMENDER"])
    adapter_class = run(example("adapter-subclass"))["StoreAdapter"]
    assert issubclass(adapter_class, CatalogAdapter)
    tights = Section.objects.create(title="Leggings/Tights")
    items = [
        Item.objects.create(
            headline="Leggings", blurb="Stretch jersey", section=tights, cost_cents=2499, stock_count=3
        ),
        Item.objects.create(headline="Loose", cost_cents=5, stock_count=0, listed=False),  # no section, hidden
    ]
    with override_settings(RECOMMENDER=config):
        assert checks.check_product_model() == []
        field_map, subclass = FieldMapAdapter(), adapter_class()
        for item in items:
            assert {m: getattr(field_map, m)(item) for m in METHODS} == {m: getattr(subclass, m)(item) for m in METHODS}
        assert (
            field_map.price(items[0]) == Decimal("24.99") and field_map.url(items[0]) == f"/store/items/{items[0].pk}/"
        )
        keys = [field_map.key(i) for i in reversed(items)]
        assert subclass.products_by_keys(keys) == field_map.products_by_keys(keys) == list(reversed(items))
        assert subclass.sellable_keys(keys) == field_map.sellable_keys(keys) == {keys[1]}
