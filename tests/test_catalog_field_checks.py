"""Issue 14, item 5: a wrong FIELDS path fails ``check`` (recommender.E003) with a hint that names
the fields existing where the path breaks; callables and the declarative forms are checked too."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.db import models
from django.test import override_settings
from django.test.utils import isolate_apps

from recommender import checks
from recommender.catalog.field_checks import field_problems, parse_fields, related_paths
from tests.foreignshop.models import FOREIGN_SHOP_RECOMMENDER


def price_of(product):
    """A "module:function" field for the tests below."""
    return product.cost_cents / 100


NOT_A_FUNCTION = 42


def _messages(**fields):
    config = {**FOREIGN_SHOP_RECOMMENDER, "FIELDS": {**FOREIGN_SHOP_RECOMMENDER["FIELDS"], **fields}}
    with override_settings(RECOMMENDER=config):
        return checks.check_product_model()


def test_the_foreign_shop_configuration_is_clean():
    assert _messages() == []
    with override_settings(RECOMMENDER=FOREIGN_SHOP_RECOMMENDER):
        assert not [m for m in run_checks(tags=["recommender"]) if m.id == "recommender.E003"]


@pytest.mark.parametrize(
    "fields",
    [
        {"price": lambda product: product.cost_cents / 100},
        {"price": "tests.test_catalog_field_checks:price_of"},
        {"price": ("cost_cents", 0.01)},
        {"image": "picture.url", "category": "section", "in_stock": "section_id"},
        {"title": "__str__", "text": ["blurb", "section.title", "section.pk"]},
        {"url": ("store:item", {"sku": "pk"})},
        {"url": ("store:item_in_section", {"sku": "pk", "section": "section.title"})},
        {"url": lambda product: f"/items/{product.pk}/"},
        {"url": None},
    ],
)
def test_every_supported_form_passes(fields):
    assert _messages(**fields) == []


@pytest.mark.parametrize(
    ("fields", "in_message", "in_hint"),
    [
        # The case: Section has "title", not "name".
        ({"category": "section.name"}, "foreignshop.Section has no field or attribute 'name'", "id, title"),
        ({"category": "sectoin.title"}, "foreignshop.Item has no field or attribute 'sectoin'", "headline"),
        (
            {"text": ["blurb", "section.item_set.headline"]},
            "'item_set' on foreignshop.Section is a many relation",
            "callable",
        ),
        (
            {"title": "headline.text"},
            "'headline' on foreignshop.Item holds a value (CharField), not a relation",
            "'headline'",
        ),
        ({"image": "picture.colour"}, "holds a value (ImageField), not a relation: it has no 'colour'", "'picture'"),
        ({"price": ("cost_cent", "0.01")}, "has no field or attribute 'cost_cent'", "cost_cents"),
        ({"price": ("cost_cents", "a cent")}, "expected (field path, non-zero number)", '("cost_cents", "0.01")'),
        ({"price": ("cost_cents", 0)}, "expected (field path, non-zero number)", '("cost_cents", "0.01")'),
        ({"title": ("headline", 2)}, "only applies to price", "takes:"),
        ({"price": "tests.test_catalog_field_checks:no_such_function"}, "could not be imported", "module:function"),
        ({"price": "tests.test_catalog_field_checks:NOT_A_FUNCTION"}, "is not callable", "takes:"),
        ({"price": lambda: 1}, "must take the product as its only argument", "lambda product"),
        ({"price": lambda product, currency: 1}, "must take the product as its only argument", "lambda product"),
        ({"category": 3}, "is not a field path", "takes:"),
        ({"url": "store:nothing"}, "no URL pattern has this name", "namespace:name"),
        ({"url": "shop:item"}, "no URL pattern has this name", "namespace:name"),
        ({"url": "store:item_in_section"}, "not one argument", "'section': ..., 'sku': ..."),
        ({"url": ("store:item", {"slug": "pk"})}, "the setting gives ['slug']", "pattern's arguments"),
        ({"url": ("store:item", {"sku": "skew"})}, "has no field or attribute 'skew'", "sku"),
        ({"url": ["store:item"]}, "is not a URL pattern form", "namespace:name"),
    ],
)
def test_wrong_fields_are_e003_with_a_hint_that_names_the_fix(fields, in_message, in_hint):
    messages = _messages(**fields)
    assert [m.id for m in messages] == ["recommender.E003"], messages
    assert in_message in messages[0].msg
    assert in_hint in messages[0].hint


def test_unknown_roles_and_several_problems_are_each_reported():
    messages = _messages(colour="colour", category="section.name", title="heading")
    assert len(messages) == 3 and {m.id for m in messages} == {"recommender.E003"}
    assert "unknown keys ['colour']" in messages[0].msg


def test_a_custom_adapter_ignores_fields():
    config = {
        "PRODUCT_MODEL": "foreignshop.Item",
        "CATALOG_ADAPTER": "recommender.catalog.CatalogAdapter",
        "FIELDS": {"category": "section.name"},
    }
    with override_settings(RECOMMENDER=config):
        assert checks.check_product_model() == []


@isolate_apps("tests.foreignshop")
def test_paths_follow_one_to_one_both_ways_and_refuse_many_relations():
    class Brand(models.Model):
        name = models.CharField(max_length=20)

        class Meta:
            app_label = "foreignshop"

    class Tag(models.Model):
        word = models.CharField(max_length=20)

        class Meta:
            app_label = "foreignshop"

    class Shoe(models.Model):
        brand = models.ForeignKey(Brand, on_delete=models.CASCADE)
        tags = models.ManyToManyField(Tag)

        class Meta:
            app_label = "foreignshop"

        @property
        def origin(self):
            return self.brand

    class Label(models.Model):
        shoe = models.OneToOneField(Shoe, on_delete=models.CASCADE, related_name="label")
        material = models.CharField(max_length=20)

        class Meta:
            app_label = "foreignshop"

    def problems(**fields):
        specs, parse = parse_fields(fields)
        return parse + field_problems(Shoe, specs)

    assert problems(text=["label.material", "brand.name", "label.shoe.brand.name", "origin.anything"]) == []
    specs, _ = parse_fields({"text": ["label.material", "label.shoe.brand.name", "brand_id", "tags"]})
    assert related_paths(Shoe, specs) == ["label", "label__shoe", "label__shoe__brand"]
    [reverse] = problems(category="label.fabric")
    assert "Label has no field or attribute 'fabric'" in reverse.message and "material" in reverse.hint
    [many] = problems(category="tags.word")
    assert "'tags' on foreignshop.Shoe is a many relation" in many.message
    [reverse_fk] = problems(category="brand.shoe_set.id")
    assert "'shoe_set' on foreignshop.Brand is a many relation" in reverse_fk.message
    [wrong] = problems(title="brand.title")
    assert "Brand has no field or attribute 'title'" in wrong.message and "id, name" in wrong.hint
