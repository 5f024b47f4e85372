"""The demo shop in a real browser: Playwright drives Debian's chromium against the live server.

home → product → click a recommendation → add to cart → buy, asserting that clicks are
attributed by the beacon and that recommendations change after those events; and search: type
in the header box, pick a suggestion with the keyboard, see results, then search by a catalog
photo. Screenshots of each page go to the test's tmp folder (``docs/screenshots/`` holds the
committed ones, taken on the demo's generated catalog by ``bench/demo_screenshots.py``; the
search ones, ``demo-search-*.png``, by this test with ``RECOMMENDER_SAVE_SCREENSHOTS=1``).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from recommender.indexing import reindex
from recommender.models import Event
from recommender.search import refresh_suggestions
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
# Set to 1 to (re)write the committed search screenshots in docs/screenshots/.
SAVE_SCREENSHOTS = "RECOMMENDER_SAVE_SCREENSHOTS"
SHOP_RECOMMENDER = {
    "PRODUCT_MODEL": "catalog.Product",
    "FIELDS": {
        "title": "name",
        "text": ["description"],
        "image": "image",
        "category": "category",
        "price": "price",
        "in_stock": "stock",
    },
    "SELLABLE_FILTER": {},
    "TEXT_TEMPLATE": "{colour} {category}. {title}. {description}",
}


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it.")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
        # The test's ORM calls ran inside Playwright's greenlet, on a connection of their own:
        # close it, or the test database cannot be dropped at the end of the session.
        from django.db import connections

        connections.close_all()


@pytest.fixture
def demo_shop(settings, tiny_encoder, tmp_path):
    """The demo's pages and generated catalog, embedded with the tiny encoder."""
    from shopdemo.catalog import generated

    settings.ROOT_URLCONF = "shopdemo.urls"
    settings.DEBUG = True  # serve media through the demo's urls
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STATICFILES_DIRS = [ROOT / "shopdemo" / "static"]
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [ROOT / "shopdemo" / "templates"]}]
    settings.TEMPLATES[0]["OPTIONS"] = {
        **settings.TEMPLATES[0]["OPTIONS"],
        "context_processors": [
            *settings.TEMPLATES[0]["OPTIONS"]["context_processors"],
            "shopdemo.catalog.context_processors.shop",
        ],
    }
    settings.RECOMMENDER = {**SHOP_RECOMMENDER, "ENCODER": tiny_encoder, "MODEL_DIR": str(tmp_path / "models")}
    products = generated.build_catalog(48)
    generated.simulate_crowd(products, sessions=60)
    reindex()
    return products


def slot_products(page, slot: str) -> list[str]:
    return page.eval_on_selector_all(
        f'[data-rec-slot="{slot}"] [data-rec-product]', "els => els.map(e => e.dataset.recProduct)"
    )


def test_browse_click_buy_and_recommendations_follow(browser, demo_shop, live_server, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(live_server.url + "/")
    trending = slot_products(page, "home-trending")
    assert trending, page.content()[:2000]
    assert slot_products(page, "home-for-you") == []  # nothing to personalise on yet
    page.screenshot(path=shots / "home.png", full_page=True)

    page.click(f'[data-rec-slot="home-trending"] [data-rec-product="{trending[0]}"] a')
    page.wait_for_selector('[data-testid="product"]')
    first = page.get_attribute('[data-testid="product"]', "data-product-id")
    assert first == trending[0]
    similar = slot_products(page, "product-similar")
    assert similar and first not in similar
    page.screenshot(path=shots / "product.png", full_page=True)
    assert wait_until(lambda: Event.objects.filter(type="click", slot="home-trending", product_key=first).exists(), 10)

    page.click(f'[data-rec-slot="product-similar"] [data-rec-product="{similar[0]}"] a')
    page.wait_for_selector(f'[data-product-id="{similar[0]}"]')
    assert wait_until(
        lambda: Event.objects.filter(type="click", slot="product-similar", strategy="similar").exists(), 10
    )
    assert Event.objects.filter(type="view").count() >= 2

    page.click('[data-testid="add-to-cart"]')
    page.wait_for_selector('[data-testid="checkout"]')
    assert page.inner_text('[data-testid="cart-count"]') == "1"
    page.screenshot(path=shots / "cart.png", full_page=True)
    page.click('[data-testid="checkout"]')
    page.wait_for_url(live_server.url + "/")
    mine = Event.objects.filter(type="purchase").exclude(session_key__startswith="crowd-")
    assert list(mine.values_list("product_key", flat=True)) == [similar[0]]

    for_you = slot_products(page, "home-for-you")
    recent = slot_products(page, "home-recent")
    assert for_you, "after browsing, the home page personalises"
    assert similar[0] not in for_you  # bought: excluded
    assert recent[:2] == [similar[0], first]
    assert "Because you" in page.inner_text('[data-rec-slot="home-for-you"]')
    page.screenshot(path=shots / "home-after.png", full_page=True)
    assert errors == []


def test_the_beacon_sends_a_pages_views_as_one_batch(browser, demo_shop, live_server):
    """Three product views on one page arrive in one POST (``{"events": [...]}``), all stored."""
    keys = [p.pk for p in demo_shop[:3]]
    html = (
        "<!doctype html><html><body>"
        + "".join(f'<div data-rec-view="{k}">product {k}</div>' for k in keys)
        + '<script src="/static/recommender/beacon.js" data-endpoint="/api/recommender/events/" '
        'data-max-batch="50"></script></body></html>'
    )
    page = browser.new_page()
    # A page of the live server's origin (the beacon posts same-origin), written here.
    page.route(live_server.url + "/beacon-test/", lambda route: route.fulfill(body=html, content_type="text/html"))
    posts: list[str] = []

    def observe(route) -> None:  # the beacon's requests, passed on to the server unchanged
        posts.append(route.request.post_data or "")
        route.continue_()

    page.route("**/api/recommender/events/", observe)
    stored = Event.objects.filter(type="view", product_key__in=[str(k) for k in keys])
    before = stored.count()  # the simulated crowd's views
    page.goto(live_server.url + "/beacon-test/")
    for _ in range(100):  # Playwright's sync API runs the route handler only while it is called
        if stored.count() == before + 3:
            break
        page.wait_for_timeout(100)
    assert stored.count() == before + 3, (before, stored.count())
    assert len(posts) == 1 and '"events"' in posts[0], posts


def test_search_suggestions_keyboard_results_and_image(browser, demo_shop, live_server, tmp_path):
    refresh_suggestions()  # the catalog's phrases (the demo's setup builds them too)
    shots = ROOT / "docs" / "screenshots" if os.environ.get(SAVE_SCREENSHOTS) == "1" else tmp_path
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # A product view gives the shopper a session (searching alone never creates one), so the
    # searches below are recorded as the shopper's events.
    page.goto(live_server.url + demo_shop[1].get_absolute_url())
    page.goto(live_server.url + "/")
    box = page.locator("header input[role=combobox]")
    box.press_sequentially("dre")
    options = page.locator('header [role="listbox"]:not([hidden]) [role="option"]')
    options.first.wait_for()  # suggest.js fetched the suggestions and opened the list
    assert box.get_attribute("aria-expanded") == "true" and options.count() >= 2
    texts = options.all_inner_texts()
    assert all("dre" in text.lower() for text in texts), texts
    page.screenshot(path=shots / "demo-search-suggest.png")

    box.press("ArrowDown")
    active = page.locator('header [role="option"][aria-selected="true"]')
    assert box.get_attribute("aria-activedescendant") == active.get_attribute("id")
    chosen = active.get_attribute("data-value")
    assert chosen == texts[0]
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q="))
    count = page.locator(".recommender-results__count")
    assert count.inner_text().endswith(f"for “{chosen}”")
    cards = page.locator(".recommender-results [data-rec-product]")
    assert cards.count() > 0 and page.input_value("header input[role=combobox]") == chosen
    assert Event.objects.filter(type="search", strategy="text", query=chosen, result_count__gt=0).exists()
    page.screenshot(path=shots / "demo-search-results.png", full_page=True)

    photo = demo_shop[0]
    page.set_input_files("form.recommender-image-search input[name=image]", photo.image.path)
    page.click("form.recommender-image-search button[type=submit]")
    page.wait_for_selector('.recommender-results__count:has-text("for your image")')
    total = int(count.inner_text().split()[0])
    keys = page.eval_on_selector_all(
        ".recommender-results [data-rec-product]", "els => els.map(e => e.dataset.recProduct)"
    )
    assert total > 0 and str(photo.pk) in keys[:5]  # the product whose photo it is, among the first
    assert Event.objects.filter(type="search", strategy="image", query="", result_count=total).count() == 1
    page.screenshot(path=tmp_path / "search-image.png", full_page=True)
    assert errors == []
