"""Rendered slots cached by what they show (``recommender/slot_fragments.py``, issue 18).

A cache hit must be the page a fresh render gives, byte for byte; it must never show another
shopper's override, a stale title or a stale image; and it must skip the product load.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import connection
from django.template import RequestContext, Template
from django.template.loader import get_template
from django.test.utils import CaptureQueriesContext

from recommender.indexing import reindex
from recommender.models import RecommenderSettings
from recommender.product_sync import sync_product_fields
from recommender.slot_fragments import is_app_template
from tests.factories import jpeg_bytes, product_with_image
from tests.test_template_tags import _request

pytestmark = pytest.mark.django_db

PAGE = """{% load recommender_tags %}<main>
{% similar_products product limit=3 %}{% customers_also_viewed product limit=3 %}{% trending_products limit=3 %}
</main>"""
SIMILAR = "{% load recommender_tags %}{% similar_products product limit=3 %}"


def _set_cache(seconds: int) -> None:
    settings = RecommenderSettings.get()
    settings.cache_seconds = seconds
    settings.save()


def _render(source: str, product, shopper=None) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        html = Template(source).render(RequestContext(_request(shopper), {"product": product}))
    return html, [q["sql"] for q in queries.captured_queries]


def _loads_products(statements: list[str]) -> bool:
    return any('FROM "testapp_product"' in sql for sql in statements)


def test_a_hit_is_the_fresh_render_byte_for_byte_and_loads_no_products(vector_shop):
    from tests.testapp.models import Product

    product = Product.objects.get(pk=vector_shop["dress-a"])
    _set_cache(0)
    fresh, statements = _render(PAGE, product)
    assert _loads_products(statements)
    assert fresh.count('class="recommender-slot"') == 2 and fresh.count("<link") == 1  # nobody viewed: no also-viewed
    _set_cache(300)
    first, _ = _render(PAGE, product)
    shopper = get_user_model().objects.create(username="second")
    hit, statements = _render(PAGE, product, shopper)
    assert fresh == first == hit
    assert not _loads_products(statements), "a cached slot loaded its products again"


def test_a_changed_title_shows_at_once(vector_shop, django_capture_on_commit_callbacks):
    from tests.testapp.models import Product

    _set_cache(300)
    product = Product.objects.get(pk=vector_shop["dress-a"])
    before, _ = _render(SIMILAR, product)
    assert ">dress-b<" in before
    Product.objects.filter(pk=vector_shop["dress-b"]).update(name="dress-b renamed")
    with django_capture_on_commit_callbacks(execute=True):
        assert sync_product_fields([vector_shop["dress-b"]]) == 1  # what the product's save queues
    after, _ = _render(SIMILAR, product)
    assert ">dress-b renamed<" in after and ">dress-b<" not in after


def test_a_new_image_shows_at_once(tiny_encoder, django_capture_on_commit_callbacks):
    _set_cache(300)
    dress = product_with_image("Strappy dress", "Short black summer dress", (15, 15, 15), category="Dress")
    other = product_with_image("Midi dress", "Black sleeveless dress", (20, 20, 20), category="Dress")
    product_with_image("Wool coat", "Warm red winter coat", (200, 20, 30), category="Coat")
    reindex()
    before, _ = _render(SIMILAR, dress)
    assert other.image.url in before
    with django_capture_on_commit_callbacks(execute=True):
        other.image.save("midi_new.jpg", ContentFile(jpeg_bytes((30, 30, 30))), save=False)
        other.save()  # re-embedded (eager task): the image changed
    after, _ = _render(SIMILAR, dress)
    assert other.image.url != "" and other.image.url in after
    assert other.image.url not in before


def test_an_overriding_slot_template_is_rendered_for_each_shopper(vector_shop, tmp_path, settings):
    """A shop's own slot template may show the shopper (a wishlist, a greeting): never cached."""
    from tests.testapp.models import Product

    (tmp_path / "recommender").mkdir()
    (tmp_path / "recommender" / "slot.html").write_text(
        "<p>for {{ user.username }}:{% for card in cards %} {{ card.title }}{% endfor %}</p>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    _set_cache(300)
    product = Product.objects.get(pk=vector_shop["dress-a"])
    ann, bob = (get_user_model().objects.create(username=name) for name in ("ann", "bob"))
    assert "<p>for ann:" in _render(SIMILAR, product, ann)[0]
    assert "<p>for bob:" in _render(SIMILAR, product, bob)[0]


def test_only_the_apps_own_templates_count_as_its_own(tmp_path, settings):
    assert is_app_template(get_template("recommender/slot.html"))
    (tmp_path / "recommender").mkdir()
    (tmp_path / "recommender" / "slot.html").write_text("override")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    assert not is_app_template(get_template("recommender/slot.html"))
    assert not is_app_template(object())
