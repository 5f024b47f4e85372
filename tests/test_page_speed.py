"""A product page on the shop's hot path: few SQL round trips, product slots shared by every
shopper, and no profile update inside the page (it happens later, and "for you" follows)."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connection
from django.template import RequestContext, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from recommender.events import record_event
from recommender.models import Event, EventType, Profile, RecommenderSettings
from recommender.profiles import get_profile_vector, rebuild_profiles, update_profile
from recommender.versions import serving_version

pytestmark = pytest.mark.django_db

# The demo's product page (shopdemo/templates/shop/product.html): a view and four slots.
PAGE = (
    "{% load recommender_tags %}{% record_view product %}"
    '{% similar_products product limit=3 slot="product-similar" %}'
    '{% frequently_bought_together product limit=4 slot="product-bought-together" %}'
    '{% customers_also_viewed product limit=3 slot="product-also-viewed" %}'
    '{% recently_viewed limit=6 slot="product-recent" exclude=product %}'
)
# SQL statements one page may cost, savepoints of the test's transaction included (a shop in
# autocommit has none). First bound: 40 with the results cache off, 30 with it on; now the
# shopper's opt-out and purchases are one statement (recommender.shoppers).
MAX_QUERIES_CACHE_OFF = 25
MAX_QUERIES_CACHE_ON = 18


def _page_request(user):
    request = RequestFactory().get("/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = user
    return request


def _render(user, product) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        html = Template(PAGE).render(RequestContext(_page_request(user), {"product": product}))
    return html, len(queries)


def _shopper(name: str, keys: list[str], bought: list[str] = ()):
    user = get_user_model().objects.create(username=name)
    for key in keys:
        record_event("view", user=user, product_key=key)
    for key in bought:
        record_event("purchase", user=user, product_key=key)
    update_profile(user.pk, "")  # what the queued task does (the test's transaction never commits)
    return user


def _set_cache(seconds: int) -> None:
    settings = RecommenderSettings.get()
    settings.cache_seconds = seconds
    settings.save()


@pytest.mark.parametrize(("seconds", "bound"), [(0, MAX_QUERIES_CACHE_OFF), (300, MAX_QUERIES_CACHE_ON)])
def test_a_product_page_renders_in_a_handful_of_queries(vector_shop, seconds, bound):
    from tests.testapp.models import Product

    _set_cache(seconds)
    user = _shopper("page-reader", [vector_shop["dress-b"], vector_shop["coat-a"]], [vector_shop["bag-a"]])
    product = Product.objects.get(pk=vector_shop["dress-a"])
    _render(user, product)  # the cache warms (when on)
    html, count = _render(user, product)
    assert html.count("data-rec-product=") >= 3
    assert count <= bound, f"{count} SQL statements for one product page (at most {bound})"


def test_the_cached_page_costs_fewer_queries_than_the_uncached_one(vector_shop):
    from tests.testapp.models import Product

    user = _shopper("cache-reader", [vector_shop["dress-b"]])
    product = Product.objects.get(pk=vector_shop["dress-a"])
    _set_cache(0)
    _render(user, product)
    off = _render(user, product)[1]
    _set_cache(300)
    _render(user, product)
    on = _render(user, product)[1]
    assert on < off


def test_similar_products_are_cached_once_for_every_shopper_and_purchases_still_go(vector_shop):
    """Two shoppers who bought different things share one cached entry; each one's purchase is
    left out of what they see."""
    from tests.testapp.models import Product

    _set_cache(300)
    first = _shopper("first", [], [vector_shop["dress-b"]])
    second = _shopper("second", [], [vector_shop["dress-c"]])
    product = Product.objects.get(pk=vector_shop["dress-a"])
    source = "{% load recommender_tags %}{% similar_products product limit=3 %}"
    seen = Template(source).render(RequestContext(_page_request(first), {"product": product}))
    with CaptureQueriesContext(connection) as queries:
        html = Template(source).render(RequestContext(_page_request(second), {"product": product}))
    assert not any("<=>" in q["sql"] for q in queries.captured_queries), "the second shopper missed the cache"
    assert f'data-rec-product="{vector_shop["dress-b"]}"' not in seen
    assert f'data-rec-product="{vector_shop["dress-c"]}"' in seen
    assert f'data-rec-product="{vector_shop["dress-c"]}"' not in html
    assert f'data-rec-product="{vector_shop["dress-b"]}"' in html
    assert html.count("recommender-card__link") == 3


def test_a_page_view_updates_the_profile_later_and_for_you_follows(vector_shop, django_capture_on_commit_callbacks):
    """Without a broker (eager Celery, as here) the page does not update the profile itself; the
    view stays unprocessed, the next "for you" read rebuilds the profile, and beat's catch-up
    would have done it too."""
    from tests.testapp.models import Product

    user = _shopper("later", [vector_shop["dress-b"]])
    version = serving_version()
    before = Profile.objects.get(user=user, version=version)
    assert before.event_count == 1
    with django_capture_on_commit_callbacks(execute=True):  # as if the page's transaction committed
        _render(user, Product.objects.get(pk=vector_shop["coat-a"]))
    view = Event.objects.filter(user=user, product_key=vector_shop["coat-a"]).get()
    assert not view.processed  # left for later: the page did not wait for the profile
    assert Profile.objects.get(pk=before.pk).event_count == 1
    get_profile_vector(user.pk, "", version)  # what "for you" reads
    assert Profile.objects.get(pk=before.pk).event_count == 2
    assert Event.objects.get(pk=view.pk).processed


def test_beat_catches_up_profiles_that_page_views_left_for_later(vector_shop, django_capture_on_commit_callbacks):
    from tests.testapp.models import Product

    user = _shopper("beat", [vector_shop["dress-b"]])
    with django_capture_on_commit_callbacks(execute=True):
        _render(user, Product.objects.get(pk=vector_shop["coat-a"]))
    assert Event.objects.filter(user=user, processed=False).count() == 1
    assert rebuild_profiles(None, only_unprocessed=True) == 1  # recommender.process_pending_events
    assert Profile.objects.get(user=user, version=serving_version()).event_count == 2
    assert not Event.objects.filter(user=user, processed=False).exists()


def test_opt_out_and_purchases_are_read_in_one_statement(vector_shop):
    """The facts every product slot needs about the shopper: one round trip, and right."""
    from recommender.privacy import set_personalisation
    from recommender.shoppers import shopper_facts

    buyer = _shopper("facts-buyer", [], [vector_shop["bag-a"], vector_shop["coat-a"], vector_shop["bag-a"]])
    with CaptureQueriesContext(connection) as queries:
        facts = shopper_facts(buyer.pk, "")
    assert len(queries) == 1
    assert facts.personalised and facts.bought == tuple(sorted({vector_shop["bag-a"], vector_shop["coat-a"]}))
    set_personalisation(buyer, False)
    assert shopper_facts(buyer.pk, "") == type(facts)(personalised=False, bought=())
    record_event("purchase", session_key="anon-facts", product_key=vector_shop["dress-a"])
    anonymous = shopper_facts(None, "anon-facts")
    assert anonymous.personalised and anonymous.bought == (vector_shop["dress-a"],)
    assert shopper_facts(None, "") == type(facts)(personalised=True, bought=())


def test_for_you_reads_the_serving_versions_in_one_statement(vector_shop):
    """The encoder and the behaviour model that serve are one read, not one each (and the purchase
    policy asks the same read)."""
    from recommender.models import ModelVersion
    from recommender.recommend import recommend
    from recommender.versions import one_serving_version, serving_versions

    encoder = serving_version()
    behaviour = ModelVersion.objects.create(kind="behaviour", name="b", state="active", config={})
    with CaptureQueriesContext(connection) as queries:
        assert serving_versions() == (encoder, behaviour)
    assert len(queries) == 1
    with one_serving_version() as pinned:
        ModelVersion.objects.filter(pk=encoder.pk).update(state="retired")
        assert serving_versions() == (pinned, behaviour)
    ModelVersion.objects.filter(pk=encoder.pk).update(state="active")
    user = _shopper("versions-reader", [vector_shop["dress-b"]])
    settings = RecommenderSettings.get()
    settings.exclude_purchased = None  # auto: the policy reads the behaviour version's metrics
    settings.save()
    for shop in ("with a behaviour model", "without"):
        if shop == "without":
            behaviour.delete()
        with CaptureQueriesContext(connection) as queries:
            recommend("for_you", user=user, limit=3)
        version_reads = [q["sql"] for q in queries.captured_queries if '"recommender_modelversion"' in q["sql"]]
        assert len(version_reads) == 1, (shop, version_reads)


def test_for_you_reads_each_products_vector_row_once(vector_shop, monkeypatch):
    """The reasons need the hits' and the history's vectors, eligibility and diversity the hits'
    again: one read of the vector rows for all of them (was three), with the reasons as before."""
    import numpy as np

    import recommender.product_facts as facts_module
    from recommender.recommend import recommend
    from recommender.storage import fetch_vectors

    user = _shopper("one-read", [vector_shop["dress-b"], vector_shop["coat-a"], vector_shop["bag-b"]])
    _set_cache(0)
    reads: list[list[str]] = []
    real = facts_module.vector_rows

    def counted(version, keys, *args, **kwargs):
        keys = list(keys)
        reads.append(keys)
        return real(version, keys, *args, **kwargs)

    monkeypatch.setattr(facts_module, "vector_rows", counted)
    recs = recommend("for_you", user=user, limit=5)
    assert len(reads) == 1 and len(recs) == 5, reads
    # every reason names the past product closest to the recommended one (never itself)
    past = {vector_shop[n]: n for n in ("dress-b", "coat-a", "bag-b")}
    vectors = fetch_vectors(serving_version(), [*past, *recs.keys])
    for item in recs.items:
        others = [k for k in past if k != item.product_key]
        closest = others[int(np.argmax([vectors[k] @ vectors[item.product_key] for k in others]))]
        assert item.reason == f"Because you viewed {past[closest]}", (item.product_key, item.reason)


def test_the_newest_events_come_with_the_shopper_facts(vector_shop, monkeypatch):
    """ "For you" (reasons) and "recently viewed" read the shopper's newest events from the facts
    statement, and get what the events table gives; past what was read, the table answers."""
    from recommender import shoppers
    from recommender.recommend import recommend
    from recommender.strategies import Context
    from recommender.strategies.personal import REASON_VERBS, history

    keys = list(vector_shop.values())
    user = _shopper("newest", [keys[i % 5] for i in range(9)], [keys[7]])
    facts = shoppers.shopper_facts(user.pk, "")
    table = list(Event.objects.of_shopper(user.pk, "").product_history(shoppers.RECENT_TYPES, 200))
    assert facts.recent == tuple(table) and facts.recent_complete and len(table) == 10
    for types, rows in (((EventType.VIEW, EventType.CLICK), 6), (tuple(REASON_VERBS), 4), (tuple(REASON_VERBS), 50)):
        expected = list(Event.objects.of_shopper(user.pk, "").product_history(types, rows))
        assert facts.newest(types, rows) == expected, (types, rows)
    assert facts.newest(("search",), 5) is None  # not among the types read

    _set_cache(0)
    for strategy in ("for_you", "recently_viewed"):
        with CaptureQueriesContext(connection) as queries:
            recs = recommend(strategy, user=user, limit=4)
        assert len(recs) == 4
        history_reads = [
            q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "recommender_event"')
        ]
        assert not history_reads, (strategy, history_reads)

    # a shopper with more events than the statement reads: the events table answers the rest
    monkeypatch.setattr(shoppers, "RECENT_EVENTS", 3)
    few = shoppers.shopper_facts(user.pk, "")
    assert len(few.recent) == 3 and not few.recent_complete and few.recent[0][1] == "purchase"  # bought last
    assert few.newest((EventType.VIEW,), 2) == table[1:3]  # enough views among the three read
    assert few.newest((EventType.VIEW,), 5) is None  # not enough: the caller asks the table
    views = (EventType.VIEW, EventType.CLICK)
    with_facts = Context(version=serving_version(), limit=4, user_id=user.pk, shopper=few, personalisation=True)
    from_table = Context(version=serving_version(), limit=4, user_id=user.pk, personalisation=True)
    assert history(with_facts, views, 4) == history(from_table, views, 4) and len(history(from_table, views, 4)) == 4


def test_the_stored_profile_is_read_in_one_statement_and_rebuilt_when_behind(vector_shop):
    """A user's or an anonymous session's profile: served as stored while no event waits, rebuilt
    when one does; another owner's profile is never read."""
    version = serving_version()
    record_event("view", session_key="anon-profile", product_key=vector_shop["dress-b"])
    update_profile(None, "anon-profile")
    stored = Profile.objects.get(user=None, session_key="anon-profile", version=version)
    with CaptureQueriesContext(connection) as queries:  # the binary read is not a Django query
        vector = get_profile_vector(None, "anon-profile", version)
    assert not queries.captured_queries and np.allclose(vector, np.asarray(stored.vector, dtype=np.float32))
    record_event("view", session_key="anon-profile", product_key=vector_shop["shoes-a"])  # left unprocessed
    rebuilt = get_profile_vector(None, "anon-profile", version)
    assert Profile.objects.get(pk=stored.pk).event_count == 2 and not np.allclose(rebuilt, vector)
    # a user whose id reads like that session key has no profile of it; nobody has none at all
    user = get_user_model().objects.create(username="anon-profile")
    assert get_profile_vector(user.pk, "anon-profile", version) is None
    assert get_profile_vector(None, "", version) is None
    assert get_profile_vector(None, "other-session", version) is None
