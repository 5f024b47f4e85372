"""Clicks of logged-in shoppers reach the events API from any page (issue 14, item 3).

Their events are session-authenticated, so DRF checks CSRF; the beacon sends the ``csrftoken``
cookie's value, which a page without a form never got: "CSRF cookie not set", 403. The test
client enforces CSRF like a browser's requests are checked.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from recommender.models import Event
from tests.foreign_shop import foreign_settings, foreign_shop  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.shop_pages")]


def _click(client: Client, item, token: str):
    return client.post(
        reverse("recommender_api:events"),
        {"type": "click", "product_id": str(item.sku), "slot": "home-trending", "strategy": "trending"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )


def test_a_logged_in_shoppers_click_from_a_page_without_a_form_is_recorded(
    foreign_shop,  # noqa: F811
    django_user_model,
):
    shopper = django_user_model.objects.create_user("audrey-fan", password="pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(shopper)

    page = client.get(reverse("home"))
    assert page.status_code == 200 and b"<form" not in page.content
    assert b"recommender/beacon.js" in page.content
    cookie = client.cookies.get("csrftoken")
    token = cookie.value if cookie is not None else ""

    response = _click(client, foreign_shop["Wrap dress"], token)
    assert response.status_code == 201, response.content
    event = Event.objects.get(type="click")
    assert event.user == shopper and event.product_key == str(foreign_shop["Wrap dress"].sku)
    assert event.slot == "home-trending"


def test_a_click_without_the_token_is_still_refused(foreign_shop, django_user_model):  # noqa: F811
    """The cookie is set, CSRF protection is not loosened: no header, no event."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("shopper", password="pw"))
    client.get(reverse("home"))
    assert _click(client, foreign_shop["Wrap dress"], "").status_code == 403
    assert not Event.objects.filter(type="click").exists()
