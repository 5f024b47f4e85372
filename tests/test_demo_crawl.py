"""Issue 14, item 13: every product and category page of the demo answers 200, whatever the
category's text ("Leggings/Tights", "Hat/beanie"… answered 500 with NoReverseMatch).

The H&M crawl loads all 6,000 articles into the demo's product model (no embedding: slots may
be empty) and fetches every product page and every page of every category with the test client.
"""

from __future__ import annotations

import logging
import re
import time
from decimal import Decimal
from html import unescape

import pytest
from django.core.paginator import Paginator
from django.test import Client
from django.urls import reverse

from shopdemo.catalog.hm_import import load_articles
from shopdemo.catalog.models import Product
from shopdemo.catalog.views import PAGE_SIZE
from tests.test_browser import ROOT, SHOP_RECOMMENDER

pytestmark = pytest.mark.django_db

# Category names that must route: slashes, URL syntax, percent signs, spaces, non-ASCII.
ODD_CATEGORIES = [
    "Leggings/Tights",
    "Hat/beanie",
    "50% off?",
    "Tops & tees #1",
    "  Spaced  ",
    "Ünïcode/ß",
    "/lead",
    "trail/",
]


@pytest.fixture
def demo_pages(settings, tmp_path):
    """The demo's URLconf, templates and settings, without any encoder."""
    settings.ROOT_URLCONF = "shopdemo.urls"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [ROOT / "shopdemo" / "templates"]}]
    settings.TEMPLATES[0]["OPTIONS"] = {
        **settings.TEMPLATES[0]["OPTIONS"],
        "context_processors": [
            *settings.TEMPLATES[0]["OPTIONS"]["context_processors"],
            "shopdemo.catalog.context_processors.shop",
        ],
    }
    settings.RECOMMENDER = {**SHOP_RECOMMENDER, "MODEL_DIR": str(tmp_path / "models")}
    return settings


def crawl(client: Client) -> tuple[int, int]:
    """GET every product page and every page of every category; returns (products, category pages)."""
    products = 0
    for pk in Product.objects.order_by("pk").values_list("pk", flat=True):
        response = client.get(reverse("shop:product", args=[pk]))
        assert response.status_code == 200, (pk, response.status_code)
        products += 1
    pages = 0
    for name in Product.objects.exclude(category="").order_by("category").values_list("category", flat=True).distinct():
        count = Paginator(range(Product.objects.filter(category=name).count()), PAGE_SIZE).num_pages
        for number in range(1, count + 1):
            response = client.get(reverse("shop:category", args=[name]), {"page": number})
            assert response.status_code == 200, (name, number, response.status_code)
            assert response.context["category"] == name
            pages += 1
    return products, pages


def test_any_category_text_routes(demo_pages, caplog):
    for i, name in enumerate([*ODD_CATEGORIES, ""]):
        Product.objects.create(id=f"X{i}", name=f"Item {i}", category=name, price=Decimal("9.99"))
    Product.objects.create(id="Z/1", name="Slashed id", category="Hat/beanie", price=Decimal(5))  # ids are data too
    with caplog.at_level(logging.ERROR):
        products, pages = crawl(Client())
        home = Client().get("/")
    assert (products, pages) == (len(ODD_CATEGORIES) + 2, len(ODD_CATEGORIES))
    assert home.status_code == 200
    # The product page's category link leads back to its category, and so do the menu's links.
    for product in Product.objects.exclude(category=""):
        page = Client().get(product.get_absolute_url()).content.decode()
        href = unescape(re.search(r'class="crumbs"><a href="([^"]+)"', page).group(1))
        assert Client().get(href).context["category"] == product.category
    menu = re.findall(r'<a href="(/c/[^"]+)"', home.content.decode())
    assert {Client().get(unescape(h)).context["category"] for h in menu} == set(ODD_CATEGORIES)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.slow
@pytest.mark.hm
def test_every_hm_product_and_category_page_answers_200(demo_pages, hm_data, caplog):
    assert load_articles(hm_data) == 6000
    started = time.perf_counter()
    with caplog.at_level(logging.ERROR):
        products, pages = crawl(Client())
    seconds = time.perf_counter() - started
    assert products == 6000 and pages >= Product.objects.order_by().values("category").distinct().count()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    print(f"crawled {products} product pages and {pages} category pages in {seconds:.0f} s")
