"""For you never recommends a product because of itself, nor the product on the page (issue 14, item 8).

The shopper viewed AUDREY DRESS: their profile is AUDREY DRESS's vector, so the nearest product
to it is AUDREY DRESS itself, which was shown "Because you viewed AUDREY DRESS", on its own page.
Covered: anonymous sessions and logged-in users on the profile path (real pages, through the
middleware and ``{% record_view %}``), the tag's explicit product, and the behaviour model's path.
"""

from __future__ import annotations

import re

import pytest
from django.template import RequestContext, Template
from django.test import Client
from django.urls import reverse

from recommender.events import record_event
from recommender.models import Event, ModelVersion
from recommender.recommend import recommend
from tests.foreign_shop import foreign_settings, foreign_shop  # noqa: F401 - fixtures
from tests.test_behaviour_shop import _events, _view
from tests.test_template_tags import _request

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.shop_pages")]

CARD = re.compile(
    r'data-rec-product="(?P<key>[^"]+)".*?recommender-card__title">(?P<title>[^<]*)<.*?'
    r'recommender-card__reason">(?P<reason>[^<]*)<',
    re.DOTALL,
)


def slot_cards(html: str, slot: str) -> list[dict[str, str]]:
    """(key, title, reason) of each card in the slot ``slot`` of a rendered page."""
    match = re.search(rf'data-rec-slot="{slot}".*?</section>', html, re.DOTALL)
    return [m.groupdict() for m in CARD.finditer(match.group(0))] if match else []


def assert_no_self_reason(cards: list[dict[str, str]]) -> None:
    for card in cards:
        own = (f"Because you viewed {card['title']}", f"Because you bought {card['title']}")
        assert card["reason"] not in own, card


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "logged-in"])
def test_for_you_on_a_product_page_leaves_out_that_product_and_never_names_a_product_as_its_own_reason(
    foreign_shop,  # noqa: F811
    logged_in,
    django_user_model,
):
    client = Client()
    if logged_in:
        client.force_login(django_user_model.objects.create_user("audrey-fan", password="pw"))
    audrey = foreign_shop["AUDREY DRESS"]
    page = reverse("product", args=[audrey.sku])
    client.get(page)  # {% record_view %}: the view builds the shopper's profile (eager task)
    assert Event.objects.filter(type="view", product_key=str(audrey.sku)).count() == 1

    cards = slot_cards(client.get(page).content.decode(), "pdp-for-you")
    assert cards, "the for-you slot rendered nothing"
    assert str(audrey.sku) not in [c["key"] for c in cards]
    assert_no_self_reason(cards)

    # Elsewhere (the home page) AUDREY DRESS may be picked, but never "because you viewed" itself.
    home = slot_cards(client.get(reverse("home")).content.decode(), "home-for-you")
    assert home and any(c["key"] == str(audrey.sku) for c in home)
    assert_no_self_reason(home)

    # Another product viewed: that one is the reason for AUDREY DRESS now.
    client.get(reverse("product", args=[foreign_shop["Slip dress"].sku]))
    home = slot_cards(client.get(reverse("home")).content.decode(), "home-for-you")
    assert_no_self_reason(home)
    for card in home:
        if card["key"] == str(audrey.sku):
            assert card["reason"] == "Because you viewed Slip dress"


def test_shopper_and_shop_slots_after_record_view_leave_the_pages_product_out(foreign_shop):  # noqa: F811
    audrey = foreign_shop["AUDREY DRESS"]
    request = _request()
    record_event("view", request=request, product_key=str(audrey.sku))
    record_event("view", request=request, product_key=str(foreign_shop["Wrap dress"].sku))
    assert str(audrey.sku) in recommend("for_you", request=request, limit=5).keys
    # recommend() leaves out the product it is given, whatever the strategy.
    assert str(audrey.sku) not in recommend("for_you", request=request, product_key=str(audrey.sku), limit=5).keys

    # AUDREY DRESS's page: {% record_view %} first, then slots that are not about the product.
    html = Template(
        "{% load recommender_tags %}{% record_view item %}"
        '{% recommended_for_you limit=5 slot="pdp-for-you" %}{% trending_products limit=5 slot="pdp-trending" %}'
        '{% recently_viewed slot="pdp-recent" %}'
    ).render(RequestContext(request, {"item": audrey}))
    for slot in ("pdp-for-you", "pdp-trending", "pdp-recent"):
        cards = slot_cards(html, slot)
        assert cards and str(audrey.sku) not in [c["key"] for c in cards], slot
        assert_no_self_reason(cards)


SMALL_MODEL = ["--epochs", "6", "--lr", "0.02"]


def test_the_behaviour_models_for_you_never_names_a_product_as_its_own_reason(vector_shop, behaviour_settings):
    from django.core.management import call_command

    _events(vector_shop)
    call_command("recommender_train", "--activate", "--name", "t", *SMALL_MODEL, verbosity=0)
    assert ModelVersion.objects.get(kind=ModelVersion.Kind.BEHAVIOUR).state == ModelVersion.State.ACTIVE
    # Shoppers go dress -> coat: after a dress the model points at the coats, one of which this
    # shopper viewed before.
    _view(vector_shop, "returning", ["coat-a", "shoes-a", "bag-a", "dress-b"])
    back = {v: k for k, v in vector_shop.items()}
    recs = recommend("for_you", session_key="returning", limit=6)
    assert "coat-a" in [back[k] for k in recs.keys], [back[k] for k in recs.keys]
    for r in recs:
        assert r.reason != f"Because you viewed {back[r.product_key]}", (back[r.product_key], r.reason)

    on_page = recommend("for_you", session_key="returning", product_key=vector_shop["coat-a"], limit=6)
    assert vector_shop["coat-a"] not in on_page.keys and len(on_page) == 6
