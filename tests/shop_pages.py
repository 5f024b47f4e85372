"""A host shop's pages, as a README reader writes them (``@pytest.mark.urls("tests.shop_pages")``).

Real views rendered through the full middleware stack (sessions, CSRF, auth) and the app's
template tags; no page has a form, so nothing but the app's tags can set the CSRF cookie.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template import engines
from django.urls import include, path

from tests.foreignshop.models import Item

HOME = """{% load recommender_tags %}<!doctype html><html><head><title>Shop</title></head><body>
<h1>Welcome</h1>
{% trending_products limit=4 slot="home-trending" %}
{% recommended_for_you limit=4 slot="home-for-you" %}
{% recommender_beacon %}
</body></html>"""

PRODUCT = """{% load recommender_tags %}<!doctype html><html><head><title>{{ item.headline }}</title></head><body>
{% record_view item %}
<h1>{{ item.headline }}</h1>
{% similar_products item limit=4 slot="pdp-similar" %}
{% recommended_for_you limit=4 slot="pdp-for-you" %}
{% recommender_beacon %}
</body></html>"""


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(HOME).render({}, request))


def product(request: HttpRequest, sku: str) -> HttpResponse:
    item = get_object_or_404(Item, sku=sku)
    return HttpResponse(engines["django"].from_string(PRODUCT).render({"item": item}, request))


urlpatterns = [
    path("", home, name="home"),
    path("items/<uuid:sku>/", product, name="product"),
    path("api/recommender/", include("recommender.api.urls")),
]
