"""Issue 15, the serving holes of the security review (docs/security.md, findings 2, 4, 6, 7).

Each test replays what the reviewer did, on the real stack: URLconf, middleware, DRF, Postgres.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ImproperlyConfigured
from django.template import RequestContext, Template
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from recommender.admin.reports import last_days, slot_performance
from recommender.checks import check_trusted_proxies
from recommender.events import SESSION_ID_KEY, record_event
from recommender.models import Event, ProfileAccessLog, RecommenderSettings, SearchQuery, SlotStat
from recommender.privacy import export_user_data
from recommender.proxies import client_address, parse_proxies

pytestmark = pytest.mark.django_db


def url(name: str, *args: str) -> str:
    return reverse(f"recommender_api:{name}", args=args)


def post_event(client: APIClient, headers: dict | None = None, **payload):
    return client.post(url("events"), payload, format="json", headers=headers or {})


def logged_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


# --- 2: the event throttle and X-Forwarded-For ---------------------------------------------


def test_a_made_up_x_forwarded_for_does_not_reset_the_throttle(vector_shop, settings):
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-events": "3/min"}}
    client = APIClient()
    product = vector_shop["coat-a"]
    statuses = [
        post_event(client, {"X-Forwarded-For": "10.0.0.1"}, type="view", product_id=product).status_code
        for _ in range(4)
    ]
    assert statuses == [201, 201, 201, 429]
    for fake in ("10.0.0.2", "203.0.113.9, 10.0.0.3", "garbage"):
        refused = post_event(APIClient(), {"X-Forwarded-For": fake}, type="view", product_id=product)
        assert refused.status_code == 429, (fake, refused.content)


def test_declared_proxies_count_the_client_they_forward(vector_shop, settings):
    """Behind a declared proxy (the test client's 127.0.0.1) each client has its own budget."""
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-events": "2/min"}}
    product = vector_shop["coat-a"]
    for proxies in (["127.0.0.0/8"], 1):
        settings.RECOMMENDER = {**settings.RECOMMENDER, "TRUSTED_PROXIES": proxies}
        from django.core.cache import cache

        cache.clear()
        for client_ip in ("198.51.100.1", "198.51.100.2"):
            statuses = [
                post_event(APIClient(), {"X-Forwarded-For": client_ip}, type="view", product_id=product).status_code
                for _ in range(3)
            ]
            assert statuses == [201, 201, 429], (proxies, client_ip)
        # What the client itself wrote in front of the proxy's entry does not matter.
        spoofed = post_event(APIClient(), {"X-Forwarded-For": "1.2.3.4, 198.51.100.1"}, type="view", product_id=product)
        assert spoofed.status_code == 429


@pytest.mark.parametrize(
    "proxies, remote, forwarded, client",
    [
        (None, "192.0.2.1", "1.1.1.1", "192.0.2.1"),
        (0, "192.0.2.1", "1.1.1.1", "192.0.2.1"),
        (1, "10.0.0.5", "1.1.1.1, 8.8.8.8", "8.8.8.8"),
        (2, "10.0.0.5", "1.1.1.1, 8.8.8.8, 10.0.0.4", "8.8.8.8"),
        (3, "10.0.0.5", "8.8.8.8", "8.8.8.8"),  # fewer hops than proxies: the leftmost
        (["10.0.0.0/8"], "10.0.0.5", "1.1.1.1, 8.8.8.8, 10.0.0.4", "8.8.8.8"),
        (["10.0.0.0/8"], "192.0.2.1", "8.8.8.8", "192.0.2.1"),  # not through a proxy: the header is ignored
        (["10.0.0.0/8", "::1"], "::1", "[2001:db8::1]:443", "[2001:db8::1]:443"),
        (["10.0.0.0/8"], "10.0.0.5", "8.8.8.8:1234, 10.1.1.1:80", "8.8.8.8:1234"),
        (["10.0.0.0/8"], "10.0.0.5", "10.0.0.7", "10.0.0.7"),  # all proxies: the leftmost
        (["10.0.0.0/8"], "10.0.0.5", "", "10.0.0.5"),
    ],
)
def test_client_address(proxies, remote, forwarded, client):
    meta = {"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": forwarded}
    assert client_address(meta, parse_proxies(proxies)) == client


@pytest.mark.parametrize("bad", [-1, "10.0.0.1", ["10.0.0.0/33"], ["proxy.local"], {"a": 1}, 1.5])
def test_unusable_trusted_proxies_are_a_clear_error(settings, bad):
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        parse_proxies(bad)
    settings.RECOMMENDER = {**settings.RECOMMENDER, "TRUSTED_PROXIES": bad}
    assert [message.id for message in check_trusted_proxies()] == ["recommender.E006"]


def test_forwarded_header_without_declared_proxies_warns_once(vector_shop, settings, caplog):
    assert check_trusted_proxies() == []
    with caplog.at_level(logging.WARNING, logger="recommender.proxies"):
        for _ in range(3):
            post_event(APIClient(), {"X-Forwarded-For": "1.2.3.4"}, type="view", product_id=vector_shop["coat-a"])
    assert sum("TRUSTED_PROXIES" in r.getMessage() for r in caplog.records) == 1
    warnings = check_trusted_proxies()
    assert [w.id for w in warnings] == ["recommender.W002"] and "TRUSTED_PROXIES" in warnings[0].hint
    settings.RECOMMENDER = {**settings.RECOMMENDER, "TRUSTED_PROXIES": ["10.0.0.0/8"]}
    assert check_trusted_proxies() == []  # declared: nothing to warn about
    settings.RECOMMENDER = {**settings.RECOMMENDER, "TRUSTED_PROXIES": None}
    settings.REST_FRAMEWORK = {"NUM_PROXIES": 1}
    assert check_trusted_proxies() == []  # declared to DRF: honoured as well


# --- 4: reading another shopper's history --------------------------------------------------

DENIED = {"detail": "You may not read this user's recommendations."}


def grant_profile_view(user) -> None:
    user.user_permissions.add(Permission.objects.get(codename="view_profile", content_type__app_label="recommender"))


@pytest.fixture
def shopper_with_history(vector_shop):
    alice = get_user_model().objects.create_user("alice")
    post_event(logged_in(alice), type="view", product_id=vector_shop["coat-c"])
    return alice


def test_staff_without_the_permission_learn_nothing_not_even_who_exists(shopper_with_history):
    staff = logged_in(get_user_model().objects.create_user("clerk", is_staff=True))
    for name in ("for-you", "recently-viewed"):
        existing = staff.get(url(name), {"user": shopper_with_history.pk})
        missing = staff.get(url(name), {"user": shopper_with_history.pk + 1000})
        malformed = staff.get(url(name), {"user": "abc"})
        assert [r.status_code for r in (existing, missing, malformed)] == [403, 403, 403]
        assert existing.json() == missing.json() == malformed.json() == DENIED
    assert not ProfileAccessLog.objects.exists()


def test_permitted_reads_are_logged_for_the_auditor(vector_shop, shopper_with_history, admin_client):
    support = get_user_model().objects.create_user("support")  # no admin access needed for the API
    grant_profile_view(support)
    client = logged_in(support)
    slot_before = SlotStat.objects.filter(slot="api").count()
    response = client.get(url("recently-viewed"), {"user": shopper_with_history.pk})
    assert response.status_code == 200 and [r["product_id"] for r in response.json()["results"]] == [
        vector_shop["coat-c"]
    ]
    assert client.get(url("for-you"), {"user": shopper_with_history.pk}).status_code == 200
    missing = client.get(url("for-you"), {"user": shopper_with_history.pk + 1000})
    assert missing.status_code == 403 and missing.json() == DENIED  # the same answer as no permission
    assert SlotStat.objects.filter(slot="api").count() == slot_before  # staff looking is no impression
    client.get(url("for-you"))  # their own results: nothing to log

    log = list(
        ProfileAccessLog.objects.order_by("created_at").values_list(
            "viewer", "viewer_name", "subject", "subject_key", "endpoint"
        )
    )
    who = (support.pk, "support", shopper_with_history.pk, str(shopper_with_history.pk))
    assert log == [(*who, "recently_viewed"), (*who, "for_you")]

    page = admin_client.get(reverse("admin:recommender_profileaccesslog_changelist"))
    assert page.status_code == 200 and b"support" in page.content and b"recently_viewed" in page.content
    entry = ProfileAccessLog.objects.first()
    assert admin_client.get(reverse("admin:recommender_profileaccesslog_change", args=[entry.pk])).status_code == 200
    assert admin_client.get(reverse("admin:recommender_profileaccesslog_add")).status_code == 403
    deleted = admin_client.post(reverse("admin:recommender_profileaccesslog_delete", args=[entry.pk]), {"post": "yes"})
    assert deleted.status_code == 403 and ProfileAccessLog.objects.count() == 2

    reads = export_user_data(shopper_with_history)["profile_reads"]
    assert [r["endpoint"] for r in reads] == ["recently_viewed", "for_you"]
    assert all("support" not in str(r) for r in reads)  # when and what, not which staff member
    support.delete()  # the audit trail outlives the reader's account
    assert ProfileAccessLog.objects.filter(viewer=None, viewer_name="support").count() == 2


# --- 6: another site's links and forms write to a logged-in shopper's profile ---------------

CROSS_SITE = {"HTTP_SEC_FETCH_SITE": "cross-site"}


def page_request(user, path: str = "/", **meta):
    """A page request as the middleware leaves it: with a session and the logged-in user."""
    request = RequestFactory().get(path, **meta)
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = user
    return request


def render_page(source: str, request, **context) -> str:
    return Template("{% load recommender_tags recommender_search %}" + source).render(RequestContext(request, context))


def test_a_cross_site_link_to_a_product_page_records_no_view(vector_shop, settings):
    alice = get_user_model().objects.create_user("alice")
    product = vector_shop["coat-a"]
    visitor = page_request(AnonymousUser(), **CROSS_SITE)
    render_page("{% record_view key %}", page_request(alice, **CROSS_SITE), key=product)
    render_page("{% record_view key %}", visitor, key=product)
    assert not Event.objects.exists() and SESSION_ID_KEY not in visitor.session  # not even a session
    assert record_event("view", request=page_request(alice, **CROSS_SITE), product_key=product) is None

    for same_site in ("same-origin", "same-site", "none"):  # "none": typed, bookmarked
        render_page("{% record_view key %}", page_request(alice, HTTP_SEC_FETCH_SITE=same_site), key=product)
    render_page("{% record_view key %}", page_request(alice), key=product)  # no header: older browsers
    assert Event.objects.filter(user=alice, type="view").count() == 4

    settings.RECOMMENDER = {**settings.RECOMMENDER, "RECORD_CROSS_SITE_EVENTS": True}
    render_page("{% record_view key %}", page_request(alice, **CROSS_SITE), key=product)
    assert Event.objects.filter(user=alice, type="view").count() == 5


def test_a_cross_site_link_to_the_search_page_logs_no_search(vector_shop):
    alice = get_user_model().objects.create_user("alice")
    render_page("{% search_results %}", page_request(alice, "/?q=red+coat", **CROSS_SITE))
    response = logged_in(alice).get(url("search"), {"q": "blue coat"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200  # the results are served, nothing is written
    assert not Event.objects.exists() and not SearchQuery.objects.exists() and not SlotStat.objects.exists()
    html = render_page("{% search_results %}", page_request(alice, "/?q=red+coat", HTTP_SEC_FETCH_SITE="same-origin"))
    assert list(Event.objects.values_list("user", "type", "query")) == [(alice.pk, "search", "red coat")]
    assert SearchQuery.objects.count() == 1
    # (7) A shown page of results is the "search" slot's impressions, which cap its clicks.
    shown = html.count("data-rec-product=")
    assert shown == 3 and SlotStat.objects.get(slot="search", strategy="search").impressions == shown
    for _ in range(shown + 2):
        record_event("click", user=alice, product_key=vector_shop["coat-a"], slot="search", strategy="search")
    assert SlotStat.objects.get(slot="search", strategy="search").clicks == shown


def test_cross_site_event_posts_are_refused_with_a_reason(vector_shop, settings):
    product = vector_shop["coat-a"]
    refused = post_event(APIClient(), {"Sec-Fetch-Site": "cross-site"}, type="view", product_id=product)
    assert refused.status_code == 403 and "RECORD_CROSS_SITE_EVENTS" in refused.json()["detail"]
    assert not Event.objects.exists() and settings.SESSION_COOKIE_NAME not in refused.cookies
    assert (
        post_event(APIClient(), {"Sec-Fetch-Site": "same-origin"}, type="view", product_id=product).status_code == 201
    )
    settings.RECOMMENDER = {**settings.RECOMMENDER, "RECORD_CROSS_SITE_EVENTS": True}
    assert post_event(APIClient(), {"Sec-Fetch-Site": "cross-site"}, type="view", product_id=product).status_code == 201
    assert Event.objects.count() == 2


# --- 7: made-up slots and clicks -------------------------------------------------------------


def test_made_up_slots_count_nothing_and_clicks_never_exceed_impressions(vector_shop):
    client = APIClient()
    shown = client.get(url("trending"), {"slot": "made-up"})
    assert shown.status_code == 200  # served all the same
    assert not SlotStat.objects.filter(slot="made-up").exists()
    refused = post_event(client, type="click", product_id=vector_shop["coat-a"], slot="made-up", strategy="trending")
    assert refused.status_code == 400 and "Unknown slot 'made-up'" in refused.json()["slot"][0]
    assert not Event.objects.filter(type="click").exists()

    # The review's 300 %: one page of the default "api" slot, then three clicks per shown product.
    for name in ("coat-a", "coat-b", "coat-a", "shoes-a"):
        post_event(APIClient(), type="view", product_id=vector_shop[name])
    rows = client.get(url("trending"), {"limit": 3}).json()["results"]  # a page of 3 (New in tops it up)
    assert len(rows) == 3
    for row in rows * 3:
        response = post_event(client, type="click", product_id=row["product_id"], slot="api", strategy="trending")
        assert response.status_code == 201  # the shopper's clicks still count for their profile
    assert Event.objects.filter(type="click").count() == 9
    (stat,) = slot_performance(last_days(1))
    assert (stat.slot, stat.impressions, stat.clicks) == ("api", 3, 3) and stat.ctr == 1.0
    # A strategy the slot never showed has no impressions to click.
    post_event(client, type="click", product_id=rows[0]["product_id"], slot="api", strategy="similar")
    assert not SlotStat.objects.filter(slot="api", strategy="similar").exists()


def test_conversions_never_exceed_clicks(vector_shop):
    alice = get_user_model().objects.create_user("alice")
    SlotStat.bump("home", "for_you", impressions=8)
    record_event("click", user=alice, product_key=vector_shop["bag-a"], slot="home", strategy="for_you")
    for _ in range(3):
        record_event("purchase", user=alice, product_key=vector_shop["bag-a"])
    stat = SlotStat.objects.get(slot="home", strategy="for_you")
    assert (stat.impressions, stat.clicks, stat.conversions) == (8, 1, 1)


def test_declared_slots_count(vector_shop, settings):
    client = APIClient()
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SLOTS": ["app-home"]}
    client.get(url("trending"), {"slot": "app-home"})  # the setting
    client.get(url("similar", vector_shop["dress-a"]), {"slot": "product", "limit": 2})  # admin default slot
    settings_row = RecommenderSettings.get()
    settings_row.slot_strategies = {**settings_row.slot_strategies, "sale": "trending"}
    settings_row.save()
    client.get(url("similar", vector_shop["dress-a"]), {"slot": "sale", "limit": 2})  # added in the admin
    shown = {(s.slot, s.strategy): s.impressions for s in SlotStat.objects.all()}
    # trending without events is a page of 8 "New in" products
    assert shown == {("app-home", "trending"): 8, ("product", "similar"): 2, ("sale", "similar"): 2}

    # A slot a template tag rendered declares itself: the beacon's clicks on it count.
    html = render_page(
        '{% similar_products key limit=3 slot="pdp-similar" %}',
        page_request(AnonymousUser()),
        key=vector_shop["dress-a"],
    )
    assert 'data-rec-slot="pdp-similar"' in html
    clicked = post_event(
        client, type="click", product_id=vector_shop["dress-b"], slot="pdp-similar", strategy="similar"
    )
    assert clicked.status_code == 201
    stat = SlotStat.objects.get(slot="pdp-similar", strategy="similar")
    assert (stat.impressions, stat.clicks) == (3, 1)
    client.get(url("trending"), {"slot": "pdp-similar"})  # API clients may show results under it too
    # dress-b (clicked, so trending) and 7 "New in" products
    assert SlotStat.objects.get(slot="pdp-similar", strategy="trending").impressions == 8
