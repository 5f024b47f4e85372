"""Events, profiles, strategies, rules, diversity and caching on real Postgres + pgvector.

Vectors are set by hand (4-d, one axis per product family) so every expected ranking can be
worked out on paper; the encoder path is covered in test_indexing.py.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth import get_user_model, login
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory
from django.utils import timezone

from recommender.events import SESSION_ID_KEY, EventError, record_event
from recommender.models import Event, MerchandisingRule, Profile, RecommenderSettings, SlotStat
from recommender.profiles import update_profile
from recommender.recommend import UnknownStrategy, recommend
from recommender.storage import VectorRow, ensure_indexes, store_vectors
from tests.factories import encoder_version
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db

# family -> axis; two near-identical dresses, a distinct third dress, etc.
FAMILIES = {"dress": 0, "coat": 1, "shoes": 2, "bag": 3}


def _vec(axis: int, wobble: float = 0.0, other: int | None = None) -> np.ndarray:
    v = np.full(4, 0.02, dtype=np.float32)
    v[axis] = 1.0
    if other is not None:
        v[other] += wobble
    return v / np.linalg.norm(v)


@pytest.fixture
def shop():
    """12 products in 4 families, embedded in an active version; returns name -> key."""
    version = encoder_version(4)
    specs = [
        ("dress-a", "dress", 0.00, None, True), ("dress-b", "dress", 0.05, 1, True), ("dress-c", "dress", 0.3, 3, True),
        ("dress-out", "dress", 0.01, 2, False), ("coat-a", "coat", 0.0, None, True), ("coat-b", "coat", 0.1, 0, True),
        ("shoes-a", "shoes", 0.0, None, True), ("shoes-b", "shoes", 0.1, 3, True), ("bag-a", "bag", 0.0, None, True),
        ("bag-b", "bag", 0.2, 0, True), ("coat-c", "coat", 0.2, 2, True), ("shoes-c", "shoes", 0.3, 1, True),
    ]  # fmt: skip
    keys, rows = {}, []
    for name, family, wobble, other, in_stock in specs:
        p = Product.objects.create(name=name, category=family, in_stock=in_stock, price=10 + len(keys))
        keys[name] = str(p.pk)
        v = _vec(FAMILIES[family], wobble, other)
        rows.append(VectorRow(key=str(p.pk), embedding=v, image_embedding=v, text_embedding=v, title=name,
                              category=family, price=p.price, in_stock=in_stock))  # fmt: skip
    store_vectors(version, rows)
    ensure_indexes(version)
    return keys


@pytest.fixture
def user():
    return get_user_model().objects.create_user("shopper", password="pw")


def names(recs, keys) -> list[str]:
    back = {v: k for k, v in keys.items()}
    return [back[k] for k in recs.keys]


# --- events -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"type": "like", "product_key": "1"}, "type"),
        ({"type": "view"}, "product_id"),
        ({"type": "view", "product_key": "999999"}, "product_id"),
        ({"type": "view", "product_key": "abc"}, "product_id"),
        ({"type": "search", "query": "   "}, "query"),
        ({"type": "purchase", "product_key": "PK", "quantity": 0}, "quantity"),
        ({"type": "search", "query": "x", "result_count": -1}, "result_count"),
        ({"type": "search", "query": "x", "result_count": 2**40}, "result_count"),
        ({"type": "view", "product_key": "a\x00b"}, "product_id"),
    ],
)
def test_bad_events_name_the_field(shop, kwargs, field):
    kwargs = {**kwargs, "product_key": shop["dress-a"]} if kwargs.get("product_key") == "PK" else kwargs
    with pytest.raises(EventError) as exc:
        record_event(session_key="s1", **kwargs)
    assert exc.value.field == field
    assert Event.objects.count() == 0


def test_event_without_shopper_is_refused(shop):
    with pytest.raises(EventError, match="user or an anonymous session"):
        record_event("view", product_key=shop["dress-a"])


def test_huge_query_is_truncated_not_refused(shop):
    event = record_event("search", session_key="s1", query="dress " * 5000, result_count=3)
    assert len(event.query) == 500


def test_nul_characters_are_dropped_not_a_database_error(shop):
    event = record_event("search", session_key="s\x00", query="red\x00coat", slot="api\x00", result_count=1)
    event.refresh_from_db()
    assert (event.query, event.slot) == ("red coat", "api")
    assert recommend("similar", product_key="1\x00").items == []
    assert recommend("trending", slot="x\x00", record_impression=True) is not None


def test_click_and_conversion_are_counted_per_slot(shop, user):
    SlotStat.bump("home", "for_you", impressions=4)  # the slot was shown: its clicks may count
    record_event("click", user=user, product_key=shop["coat-a"], slot="home", strategy="for_you")
    record_event("purchase", user=user, product_key=shop["coat-a"])
    record_event("purchase", user=user, product_key=shop["bag-a"])  # never clicked
    stat = SlotStat.objects.get(slot="home", strategy="for_you")
    assert (stat.clicks, stat.conversions) == (1, 1)


# --- profiles -----------------------------------------------------------------------------


def test_profile_is_decayed_type_weighted_blend(shop, user):
    settings = RecommenderSettings.get()
    settings.profile_half_life_days = 10
    settings.save()
    now = timezone.now()
    record_event("purchase", user=user, product_key=shop["coat-a"], created_at=now - timedelta(days=10))
    record_event("view", user=user, product_key=shop["dress-a"], created_at=now)
    profile = update_profile(user.pk)
    w = settings.event_weights
    expected = w["view"] * _vec(0) + w["purchase"] * 0.5 * _vec(1)
    np.testing.assert_allclose(profile.vector, expected / np.linalg.norm(expected), atol=1e-5)
    assert profile.event_count == 2
    assert not Event.objects.filter(processed=False).exists()


def test_anonymous_history_merges_into_the_user_at_login(shop, user, django_capture_on_commit_callbacks):
    request = RequestFactory().get("/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = type("Anon", (), {"is_authenticated": False})()
    with django_capture_on_commit_callbacks(execute=True):
        record_event("view", request=request, product_key=shop["shoes-a"])
    sid = request.session[SESSION_ID_KEY]
    assert Profile.objects.filter(session_key=sid).exists()  # updated right after the event
    with django_capture_on_commit_callbacks(execute=True):
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    assert Event.objects.get().user == user
    assert request.session[SESSION_ID_KEY] == sid  # survived the key rotation
    assert Profile.objects.filter(user=user).exists() and not Profile.objects.filter(session_key=sid, user=None).exists()


# --- strategies ---------------------------------------------------------------------------


def test_similar_excludes_itself_and_out_of_stock(shop):
    recs = recommend("similar", product_key=shop["dress-a"], limit=3)
    got = names(recs, shop)
    assert got[0] == "dress-b" and "dress-a" not in got and "dress-out" not in got
    assert recs.items[0].reason == "Similar to dress-a"


def test_for_you_cold_start_is_trending_then_follows_the_profile(shop, user):
    other = get_user_model().objects.create_user("other")
    for _ in range(3):
        record_event("purchase", user=other, product_key=shop["bag-a"])
    cold = recommend("for_you", user=user, limit=3)
    assert names(cold, shop)[0] == "bag-a" and cold.items[0].reason == "Trending now"
    record_event("view", user=user, product_key=shop["coat-a"])
    warm = recommend("for_you", user=user, limit=3)  # the event invalidated the cache
    assert names(warm, shop)[0] in ("coat-a", "coat-b", "coat-c")
    # Explained by coat-a, except coat-a itself: never "because you viewed" itself.
    own = {shop["coat-a"]: "Picked for you"}
    assert all(r.reason == own.get(r.product_key, "Because you viewed coat-a") for r in warm.items)


def test_exclude_purchased_is_a_setting(shop, user):
    record_event("purchase", user=user, product_key=shop["dress-b"])
    assert "dress-b" not in names(recommend("similar", product_key=shop["dress-a"], user=user), shop)
    settings = RecommenderSettings.get()
    settings.exclude_purchased = False
    settings.save()
    assert "dress-b" in names(recommend("similar", product_key=shop["dress-a"], user=user), shop)


def test_bought_together_needs_minimum_support(shop):
    users = [get_user_model().objects.create_user(f"u{i}") for i in range(3)]
    for u in users[:2]:  # two baskets with dress-a + bag-a
        record_event("purchase", user=u, product_key=shop["dress-a"])
        record_event("purchase", user=u, product_key=shop["bag-a"])
    record_event("purchase", user=users[2], product_key=shop["dress-a"])
    record_event("purchase", user=users[2], product_key=shop["shoes-a"])  # support 1 only
    recs = recommend("bought_together", product_key=shop["dress-a"])
    assert names(recs, shop) == ["bag-a"]


def test_also_viewed_counts_distinct_shoppers(shop):
    for s in ("s1", "s2", "s3"):
        record_event("view", session_key=s, product_key=shop["coat-a"])
        record_event("view", session_key=s, product_key=shop["shoes-a"])
    record_event("view", session_key="s1", product_key=shop["bag-a"])
    record_event("view", session_key="s2", product_key=shop["bag-a"])
    assert names(recommend("also_viewed", product_key=shop["coat-a"]), shop) == ["shoes-a", "bag-a"]


def test_trending_decays_older_events(shop):
    now = timezone.now()
    for _ in range(3):
        record_event("view", session_key="old", product_key=shop["coat-a"], created_at=now - timedelta(days=5))
    record_event("view", session_key="new", product_key=shop["shoes-a"], created_at=now)
    # 3 views five half-lives ago (3/32) < 1 view now
    assert names(recommend("trending"), shop)[:2] == ["shoes-a", "coat-a"]


def test_recently_viewed_newest_first_distinct(shop):
    now = timezone.now()
    for i, name in enumerate(["dress-a", "coat-a", "dress-a", "bag-a"]):
        record_event("view", session_key="s", product_key=shop[name], created_at=now + timedelta(seconds=i))
    assert names(recommend("recently_viewed", session_key="s"), shop) == ["bag-a", "dress-a", "coat-a"]


def test_rules_exclude_boost_bury_pin_per_slot_and_window(shop, django_capture_on_commit_callbacks):
    base = names(recommend("similar", product_key=shop["dress-a"], limit=5, slot="product"), shop)
    assert base[0] == "dress-b"
    with django_capture_on_commit_callbacks(execute=True):  # saving rules forgets cached results on commit
        _create_rules(shop)
    got = names(recommend("similar", product_key=shop["dress-a"], limit=5, slot="product"), shop)
    assert got[0] == "bag-b" and "dress-b" not in got and "shoes-a" != got[0]
    assert not any(n.startswith("coat") for n in got[:3])
    other_slot = names(recommend("similar", product_key=shop["dress-a"], limit=5, slot="home"), shop)
    assert other_slot[0] != "bag-b"  # the pin is for the product slot only


def _create_rules(shop):
    MerchandisingRule.objects.create(name="no b", action="exclude", target="product", product_key=shop["dress-b"])
    MerchandisingRule.objects.create(name="pin bag", action="pin", target="product", product_key=shop["bag-b"], slot="product")
    MerchandisingRule.objects.create(name="bury coats", action="bury", target="category", category="coat", strength=100)
    MerchandisingRule.objects.create(
        name="expired", action="pin", target="product", product_key=shop["shoes-a"],
        ends_at=timezone.now() - timedelta(days=1),
    )  # fmt: skip


def test_diversity_lambda_spreads_results(shop, django_capture_on_commit_callbacks):
    settings = RecommenderSettings.get()
    with django_capture_on_commit_callbacks(execute=True):
        settings.diversity_lambda = 1.0
        settings.save()
    plain = names(recommend("similar", product_key=shop["dress-a"], limit=3), shop)
    with django_capture_on_commit_callbacks(execute=True):
        settings.diversity_lambda = 0.3
        settings.save()
    diverse = names(recommend("similar", product_key=shop["dress-a"], limit=3), shop)
    assert plain[:2] == ["dress-b", "dress-c"]
    assert len({n.split("-")[0] for n in diverse}) > len({n.split("-")[0] for n in plain})


def test_category_filters_and_impressions(shop):
    recs = recommend("similar", product_key=shop["dress-a"], categories=["shoes"], slot="pdp", record_impression=True)
    assert recs.keys and all(n.startswith("shoes") for n in names(recs, shop))
    assert SlotStat.objects.get(slot="pdp", strategy="similar").impressions == len(recs)
    products = recs.products()
    assert [str(p.pk) for p in products] == recs.keys and products[0].recommendation.position == 1


def test_unknown_strategy_and_missing_product(shop):
    with pytest.raises(UnknownStrategy):
        recommend("magic")
    assert recommend("similar", product_key="").items == []
    assert recommend("similar", product_key="424242").items == []


def test_product_slots_are_cached_across_shoppers_until_a_purchase(shop, user, monkeypatch):
    """Similar products depend on the shopper only through their purchases: one cache entry
    serves everyone who bought nothing, a page view does not invalidate it, a purchase does."""
    from recommender import strategies

    runs = []
    similar = strategies.STRATEGIES["similar"]
    monkeypatch.setitem(strategies.STRATEGIES, "similar", lambda ctx: runs.append(ctx) or similar(ctx))
    assert RecommenderSettings.get().cache_seconds > 0 and RecommenderSettings.get().exclude_purchased

    first = names(recommend("similar", product_key=shop["dress-a"], user=user, limit=3), shop)
    record_event("view", user=user, product_key=shop["dress-a"])  # the product page records a view
    again = names(recommend("similar", product_key=shop["dress-a"], user=user, limit=3), shop)
    anonymous = names(recommend("similar", product_key=shop["dress-a"], session_key="tab-1", limit=3), shop)
    assert first == again == anonymous and len(runs) == 1

    record_event("purchase", user=user, product_key=shop[first[0]])
    after = names(recommend("similar", product_key=shop["dress-a"], user=user, limit=3), shop)
    assert len(runs) == 2 and first[0] not in after
    # Other shoppers keep the shared entry, with the product the user bought.
    assert names(recommend("similar", product_key=shop["dress-a"], session_key="tab-1", limit=3), shop) == first
    assert len(runs) == 2
