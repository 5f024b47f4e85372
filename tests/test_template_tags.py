"""Template tags rendered in real templates, through the real stack."""

from __future__ import annotations

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.template import Context, RequestContext, Template, TemplateSyntaxError
from django.test import RequestFactory

from recommender.events import SESSION_ID_KEY
from recommender.models import Event, SlotStat

pytestmark = pytest.mark.django_db


def _request(shopper=None):
    request = RequestFactory().get("/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = shopper or type("Anon", (), {"is_authenticated": False, "pk": None})()
    return request


def render(source: str, request=None, **context) -> str:
    tpl = Template("{% load recommender_tags %}" + source)
    ctx = RequestContext(request, context) if request is not None else Context(context)
    return tpl.render(ctx)


def test_similar_products_renders_the_slot_with_attribution_marks(vector_shop):
    html = render("{% similar_products key limit=3 %}", key=vector_shop["dress-a"])
    assert 'data-rec-slot="similar"' in html and 'data-rec-strategy="similar"' in html
    assert f'data-rec-product="{vector_shop["dress-b"]}"' in html
    assert f'data-rec-product="{vector_shop["dress-a"]}"' not in html
    assert html.count("recommender-card__link") == 3
    assert "Similar products" in html and "Similar to dress-a" in html
    assert SlotStat.objects.get(slot="similar", strategy="similar").impressions == 3


def test_product_object_and_options(vector_shop):
    from tests.testapp.models import Product

    product = Product.objects.get(pk=vector_shop["coat-a"])
    html = render('{% similar_products product limit=2 slot="pdp" title="You may like" %}', product=product)
    assert 'data-rec-slot="pdp"' in html and "You may like" in html and html.count("recommender-card__link") == 2


def test_as_form_puts_products_in_the_context(vector_shop):
    html = render(
        "{% similar_products key limit=2 as recs %}{% for p in recs %}[{{ p.name }}:{{ p.recommendation.position }}]{% endfor %}",
        key=vector_shop["dress-a"],
    )
    assert html == "[dress-b:1][dress-c:2]"


def test_personal_tags_use_the_request_shopper(vector_shop):
    request = _request()
    render("{% record_view key %}", request, key=vector_shop["shoes-b"])
    assert Event.objects.get().type == "view"
    assert SESSION_ID_KEY in request.session
    next_page = _request()
    next_page.session = request.session  # the same visitor's next page
    html = render("{% recently_viewed %}", next_page)
    assert f'data-rec-product="{vector_shop["shoes-b"]}"' in html
    # another shopper sees nothing of it
    assert render("{% recently_viewed %}", _request()) == ""


def test_trending_and_for_you_cold_start(vector_shop):
    request = _request()
    render("{% record_view key %}", request, key=vector_shop["bag-a"])
    html = render("{% trending_products limit=1 %}", _request())
    assert f'data-rec-product="{vector_shop["bag-a"]}"' in html
    assert "Trending now" in render("{% recommended_for_you limit=2 %}", _request())


def test_empty_results_render_nothing(vector_shop):
    assert render("{% frequently_bought_together key %}", key=vector_shop["dress-a"]).strip() == ""


@pytest.mark.parametrize(
    "source, message",
    [
        ("{% similar_products %}", "needs a product"),
        ("{% similar_products limit=3 %}", "needs a product"),
        ("{% trending_products bogus=1 %}", "does not take bogus"),
        ("{% trending_products 3 %}", "unexpected arguments"),
        ("{% recently_viewed as %}", "'as' needs a variable name"),
    ],
)
def test_malformed_usage_is_a_template_syntax_error(source, message):
    with pytest.raises(TemplateSyntaxError, match=message):
        Template("{% load recommender_tags %}" + source)


def test_a_failing_recommender_never_breaks_the_page(vector_shop, settings, monkeypatch):
    import recommender.recommend as rec

    def broken(*args, **kwargs):
        raise RuntimeError("vector index unavailable")

    monkeypatch.setattr(rec, "recommend", broken)
    assert render("before{% similar_products key %}after", key=vector_shop["dress-a"]) == "beforeafter"
    settings.RECOMMENDER = {**settings.RECOMMENDER, "TEMPLATE_ERRORS_RAISE": True}
    with pytest.raises(RuntimeError, match="vector index unavailable"):
        render("{% similar_products key %}", key=vector_shop["dress-a"])


def test_a_database_error_in_one_slot_leaves_the_page_and_other_slots_working(vector_shop, caplog):
    """A real database fault inside one slot (the events table locked by a long migration, the
    query runs past ``lock_timeout``) empties that slot only: it is rolled back to the slot's
    savepoint, so the page's transaction (here the test's, as with ATOMIC_REQUESTS) stays usable
    and the next slot still queries the database."""
    import psycopg
    from django.db import connection

    from recommender.models import Event

    other = psycopg.connect(**connection.get_connection_params())  # another session, e.g. a migration
    try:
        other.execute(f"LOCK TABLE {Event._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
        html = render(
            "before{% frequently_bought_together key %}middle{% similar_products key limit=2 %}after",
            key=vector_shop["dress-a"],
        )
    finally:
        other.rollback()
        other.close()
    assert html.startswith("beforemiddle") and html.endswith("after")
    assert 'data-rec-strategy="similar"' in html and html.count("recommender-card__link") == 2
    assert any("Recommendation slot 'bought_together' failed" in r.getMessage() for r in caplog.records)
