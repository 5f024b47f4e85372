"""Settings are lazy and reset under override_settings; adapters read any product shape."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from recommender.catalog import FieldMapAdapter, get_adapter
from recommender.conf import app_settings
from tests.testapp.models import Article, Department, Gadget, Product

ARTICLE_SETTINGS = {
    "PRODUCT_MODEL": "testapp.Article",
    "FIELDS": {
        "title": "title",
        "text": ["details", "department.name"],
        "image": "photo_path",
        "category": "department.name",
        "price": "cost",
        "in_stock": "stock",
    },
    "TEXT_TEMPLATE": "{title} ({category}): {text}",
}


def test_defaults_merge_with_user_settings_and_reset_on_change():
    assert app_settings.PRODUCT_MODEL == "testapp.Product"
    assert app_settings.HNSW_M == 24  # a default
    with override_settings(RECOMMENDER={"PRODUCT_MODEL": "testapp.Gadget", "ENCODER": {"MODEL": "RN50"}}):
        assert app_settings.PRODUCT_MODEL == "testapp.Gadget"
        # nested dicts merge over their defaults
        assert app_settings.ENCODER["MODEL"] == "RN50"
        assert app_settings.ENCODER["BATCH_SIZE"] == 32
    assert app_settings.PRODUCT_MODEL == "testapp.Product"


def test_unknown_setting_is_an_attribute_error():
    with pytest.raises(AttributeError, match="Invalid RECOMMENDER setting"):
        app_settings.NOT_A_SETTING  # noqa: B018


@pytest.mark.django_db
def test_int_key_product_adapter_reads_fields_and_builds_document():
    p = Product.objects.create(
        name="Linen shirt", description="Airy summer shirt", category="Shirts", colour="white", price=Decimal("29.90")
    )
    adapter = get_adapter()
    assert adapter.key(p) == str(p.pk)
    assert adapter.title(p) == "Linen shirt"
    assert adapter.text(p) == "Airy summer shirt. white"
    assert adapter.category(p) == "Shirts"
    assert adapter.price(p) == Decimal("29.90")
    assert adapter.in_stock(p) is True
    assert adapter.image(p) is None  # empty ImageField
    assert adapter.document(p) == "Linen shirt. Shirts. Airy summer shirt. white"


@pytest.mark.django_db
def test_string_key_model_with_relations_and_stock_count():
    dept = Department.objects.create(name="Knitwear")
    a = Article.objects.create(article_id="0108775015", title="Cardigan", details="Soft wool", department=dept, stock=0)
    with override_settings(RECOMMENDER=ARTICLE_SETTINGS):
        adapter = get_adapter()
        assert adapter.key(a) == "0108775015"
        assert adapter.category(a) == "Knitwear"
        assert adapter.text(a) == "Soft wool. Knitwear"
        assert adapter.in_stock(a) is False  # stock 0
        assert adapter.price(a) is None
        assert adapter.document(a) == "Cardigan (Knitwear): Soft wool. Knitwear"
        assert [adapter.key(x) for x in adapter.products_by_keys(["missing", "0108775015"])] == ["0108775015"]


@pytest.mark.django_db
def test_uuid_key_model_with_no_optional_fields():
    g1, g2 = Gadget.objects.create(label="A"), Gadget.objects.create(label="B")
    settings = {
        "PRODUCT_MODEL": "testapp.Gadget",
        "FIELDS": {"title": "label", "text": [], "image": None, "category": None, "price": None, "in_stock": None},
    }
    with override_settings(RECOMMENDER=settings):
        adapter = get_adapter()
        keys = [str(g2.pk), "not-a-uuid", str(uuid.uuid4()), str(g1.pk)]
        assert adapter.products_by_keys(keys) == [g2, g1]  # order kept, bad keys skipped
        assert adapter.in_stock(g1) is True and adapter.category(g1) == "" and adapter.price(g1) is None


@pytest.mark.django_db
def test_sellable_filter_selects_keys_in_one_query(django_assert_num_queries):
    on = Product.objects.create(name="on", active=True)
    off = Product.objects.create(name="off", active=False)
    adapter = get_adapter()
    with django_assert_num_queries(1):
        assert adapter.sellable_keys([str(on.pk), str(off.pk)]) == {str(on.pk)}


@pytest.mark.parametrize(
    "recommender, message",
    [
        ({}, 'RECOMMENDER["PRODUCT_MODEL"] is not set'),
        ({"PRODUCT_MODEL": "nope"}, 'must be of the form "app_label.ModelName"'),
        ({"PRODUCT_MODEL": "testapp.Missing"}, "is not an installed model"),
        ({"PRODUCT_MODEL": "testapp.Product", "FIELDS": {"title": "headline"}}, "has no field or attribute 'headline'"),
        ({"PRODUCT_MODEL": "testapp.Product", "FIELDS": {"colour": "colour"}}, "unknown keys ['colour']"),
    ],
)
def test_misconfiguration_names_the_setting(recommender, message):
    with override_settings(RECOMMENDER=recommender), pytest.raises(ImproperlyConfigured) as exc:
        FieldMapAdapter()
    assert message in str(exc.value)


def test_bad_adapter_path_is_reported():
    with (
        override_settings(RECOMMENDER={"PRODUCT_MODEL": "testapp.Product", "CATALOG_ADAPTER": "no.such.Adapter"}),
        pytest.raises(ImproperlyConfigured, match=r"CATALOG_ADAPTER.*could not be imported"),
    ):
        get_adapter()
