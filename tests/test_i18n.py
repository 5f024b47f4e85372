"""Issue 20: the pages speak the shopper's language.

Rendered through the real stack with the shipped catalogs: a slot and its reasons, "because you
viewed …" from real events, an API error, a system check, and the demo shop, whose language
comes from Accept-Language or from the cookie that its language picker (Django's set_language)
sets.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from recommender.checks import check_broker
from tests.test_api import PREFIX, post_event, url
from tests.test_demo_crawl import demo_pages  # noqa: F401 (fixture)
from tests.test_template_tags import render

ROOT = Path(__file__).resolve().parent.parent
LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"

pytestmark = pytest.mark.django_db


def demo_setting(name: str):
    """A literal setting of the demo shop (shopdemo/settings.py), read without importing it."""
    tree = ast.parse((ROOT / "shopdemo" / "settings.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(name)


@pytest.fixture
def localised(settings):
    """The test project with the demo's languages and its LocaleMiddleware (after sessions)."""
    settings.LANGUAGES = demo_setting("LANGUAGES")
    settings.MIDDLEWARE = [m for m in demo_setting("MIDDLEWARE") if m in settings.MIDDLEWARE or m == LOCALE_MIDDLEWARE]
    return settings


def test_a_slot_and_its_reasons_render_in_chinese(vector_shop):
    with translation.override("zh-hans"):
        html = render("{% similar_products key limit=3 %}", key=vector_shop["dress-a"])
    assert "相似商品" in html and "与 dress-a 相似" in html
    assert "Similar" not in html


def test_a_cached_slot_is_not_served_in_another_language(vector_shop):
    with translation.override("en"):
        english = render("{% similar_products key limit=3 %}", key=vector_shop["dress-a"])
    with translation.override("de"):
        german = render("{% similar_products key limit=3 %}", key=vector_shop["dress-a"])
    assert "Similar to dress-a" in english
    assert "Ähnlich wie dress-a" in german and "Similar to" not in german


def test_because_you_viewed_comes_in_the_shoppers_language(vector_shop, localised, django_capture_on_commit_callbacks):
    shopper = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("coat-a", "coat-b"):
            assert post_event(shopper, type="view", product_id=vector_shop[name]).status_code == 201
    rows = shopper.get(url("for-you"), {"limit": 3}, HTTP_ACCEPT_LANGUAGE="zh-Hans").json()["results"]
    assert rows and all(row["reason"].startswith("因为你浏览过 coat-") for row in rows), rows
    rows = shopper.get(url("for-you"), {"limit": 3}, HTTP_ACCEPT_LANGUAGE="de").json()["results"]
    assert rows and all(row["reason"].startswith("Weil Sie coat-") for row in rows), rows


def test_an_api_error_comes_in_chinese(vector_shop, localised):
    response = APIClient().get(f"{PREFIX}similar/999999/", HTTP_ACCEPT_LANGUAGE="zh-Hans,zh;q=0.9,en;q=0.5")
    assert response.status_code == 404
    assert response.json() == {"detail": "未知商品 '999999'。"}
    assert response["Content-Language"] == "zh-hans"


def test_an_event_error_comes_in_the_shoppers_language(vector_shop, localised):
    body = {"type": "view", "product_id": "999999"}
    response = APIClient().post(f"{PREFIX}events/", body, format="json", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert response.status_code == 400
    assert "未知商品 '999999'。" in str(response.json()), response.json()
    batch = {"events": [body, {"type": "teleport", "product_id": "1"}]}
    response = APIClient().post(f"{PREFIX}events/", batch, format="json", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 400
    assert response.json()["events"][0] == "Ereignis 1 (product_id): Unbekanntes Produkt '999999'."


def test_a_system_check_speaks_the_active_language(settings):
    settings.CELERY_BROKER_URL = None
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with translation.override("zh-hans"):
        (warning,) = check_broker()
        assert warning.id == "recommender.W001" and "未配置 Celery 消息代理" in str(warning)


def test_the_demo_follows_accept_language_and_its_language_picker(demo_pages, localised):  # noqa: F811
    localised.LOCALE_PATHS = [ROOT / "shopdemo" / "locale"]
    shopper = Client()
    page = shopper.get("/", HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "新季上新，为你精选" in page and "购物车" in page and 'value="zh-hans" selected' in page

    answer = shopper.post("/i18n/setlang/", {"language": "de", "next": "/search/?q=dress"})
    assert answer.status_code == 302 and answer["Location"] == "/search/?q=dress"
    page = shopper.get("/search/?q=dress", HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()  # the cookie wins
    assert '<html lang="de">' in page and "Warenkorb" in page and 'aria-label="Suchergebnisse"' in page
