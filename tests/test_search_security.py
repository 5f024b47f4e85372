"""Issue 15, search: throttles, bounded query cost, no session per search, suggestions that a
script cannot publish, moderation, and bad input (NUL, absurd prices) that never empties a page.

Through the real stack: the API over HTTP (Django's test client, with REMOTE_ADDR as a server
sets it), the template tags rendered for real requests, and the demo shop's /search/ page."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recommender.clients import client_address, client_hash
from recommender.events import SESSION_ID_KEY
from recommender.models import Event, SearchQuery, SuggestionRule
from recommender.search import parse_query, refresh_suggestions, search, suggest
from recommender.search.moderation import approve, block
from recommender.search.receivers import connect
from tests.factories import jpeg_bytes
from tests.test_search_ranking import RED, shared_catalog

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]  # the API and the admin

SEARCH = "/api/recommender/search/"
IMAGE = "/api/recommender/search/image/"
SUGGEST = "/api/recommender/suggest/"
EVENTS = "/api/recommender/events/"


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker, tiny_model_dir):
    with shared_catalog(django_db_blocker, tiny_model_dir) as keys:
        yield keys


@pytest.fixture(autouse=True)
def receivers():
    connect()  # what RecommenderConfig.ready() calls


def upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("look.jpg", jpeg_bytes(RED), content_type="image/jpeg")


def suggested_queries(prefix: str) -> list[str]:
    return [s.text for s in suggest(prefix, limit=20) if s.kind == "query"]


# --- 3. throttles ------------------------------------------------------------------------------


def test_each_search_endpoint_has_its_own_throttle_scope(client, catalog, settings):
    settings.REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_RATES": {"recommender-search": "2/min", "recommender-suggest": "3/min"}
    }
    assert [client.get(SEARCH, {"q": "dress"}).status_code for _ in range(3)] == [200, 200, 429]
    refused = client.get(SEARCH, {"q": "dress"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0 and "detail" in refused.json()
    assert [client.get(SUGGEST, {"q": "dre"}).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert client.post(IMAGE, {"image": upload()}).status_code == 200  # its own scope, default rate
    # Another client address has its own allowance.
    assert client.get(SEARCH, {"q": "dress"}, REMOTE_ADDR="198.51.100.9").status_code == 200


def test_search_by_image_is_throttled_by_default(client, catalog):
    codes = [client.post(IMAGE, {"image": upload()}).status_code for _ in range(11)]
    assert codes == [200] * 10 + [429]  # the default 10/min, without any host setting


def test_a_rate_of_none_switches_a_throttle_off(client, catalog, settings):
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-search-image": None}}
    assert {client.post(IMAGE, {"image": upload()}).status_code for _ in range(11)} == {200}


def test_logged_in_shoppers_are_throttled_per_account(client, catalog, settings, django_user_model):
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-search": "1/min"}}
    first = django_user_model.objects.create_user("first")
    second = django_user_model.objects.create_user("second")
    client.force_login(first)
    assert [client.get(SEARCH, {"q": "coat"}).status_code for _ in range(2)] == [200, 429]
    client.force_login(second)  # the same address, another account
    assert client.get(SEARCH, {"q": "coat"}).status_code == 200


# --- 3. no session per search --------------------------------------------------------------------


def test_cookie_less_searches_create_no_session(catalog):
    for n in range(5):
        fresh = Client()  # a script without cookies: every request is a first visit
        assert fresh.get(SEARCH, {"q": f"dress {n}"}).status_code == 200
        assert fresh.post(IMAGE, {"image": upload()}).status_code == 200
        assert fresh.get(SUGGEST, {"q": "dre"}).status_code == 200
    assert Session.objects.count() == 0
    assert not Event.objects.filter(type="search").exists()  # an event needs a shopper id: none was made
    rows = SearchQuery.objects.all()
    assert rows.count() == 5 and {r.client_hash for r in rows} == {client_hash(address="127.0.0.1")}


def test_an_unknown_session_cookie_does_not_make_a_session(catalog):
    fresh = Client()
    fresh.cookies["sessionid"] = "not-a-session-the-server-gave-out"
    assert fresh.get(SEARCH, {"q": "dress"}).status_code == 200
    assert Session.objects.count() == 0


def test_a_shopper_with_a_session_gets_search_events(client, catalog):
    client.session  # the test client's way to have a session, as after a first page view  # noqa: B018
    client.get(SEARCH, {"q": "wool coat"})
    sid = client.session[SESSION_ID_KEY]
    assert Event.objects.get(type="search").session_key == sid and Session.objects.count() == 1


# --- 3. bounded query cost -----------------------------------------------------------------------


def random_query(seed: int, length: int = 195) -> str:
    rng = random.Random(seed)
    words: list[str] = []
    while len(" ".join(words)) < length:
        words.append("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9))))
    return " ".join(words)[:length]


def test_a_long_random_query_is_bounded_in_words(catalog, settings):
    query = random_query(0)
    assert len(query.split()) > 25
    parsed = parse_query(query)
    assert len(parsed.text.split()) == 10 and len(parsed.groups) <= 10 and len(parsed.unknown_words) <= 10
    assert parsed.raw == query  # the log still gets what was typed
    packed = parse_query(",".join("abcdefghijklmnopqrstuvwxyz"))  # one chunk, 26 words
    assert len(packed.groups) == 10
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_MAX_QUERY_WORDS": 2}
    assert [g.text for g in parse_query('wool "long coat" black').groups] == ["wool", "long"]
    assert search("wool coat " + query, record=False).keys[0] == catalog["Wool coat"]


# --- 5. suggestions a script cannot publish ------------------------------------------------------


def search_and_click(address: str, query: str, product_key: str, *, click: bool, **extra) -> None:
    """A cookie-accepting shopper at ``address``: views a product (a session), searches, maybe clicks."""
    shopper = Client(REMOTE_ADDR=address, **extra)
    assert (
        shopper.post(EVENTS, {"type": "view", "product_id": product_key}, content_type="application/json").status_code
        == 201
    )
    assert shopper.get(SEARCH, {"q": query}).status_code == 200
    if click:
        body = {"type": "click", "product_id": product_key, "slot": "search", "strategy": "search"}
        assert shopper.post(EVENTS, body, content_type="application/json").status_code == 201


def test_sessions_from_one_address_do_not_publish_a_suggestion(catalog):
    for n in range(3):
        search_and_click("203.0.113.5", "linen tunic", catalog["Silk blouse"], click=n == 0)
    assert Session.objects.count() == 3  # three sessions, as the review made them
    refresh_suggestions()
    assert "linen tunic" not in suggested_queries("linen")


def test_forged_forwarded_for_headers_do_not_count_as_shoppers(catalog):
    for n in range(3):
        search_and_click(
            "203.0.113.5", "linen tunic", catalog["Silk blouse"], click=n == 0, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
        )
    refresh_suggestions()
    assert "linen tunic" not in suggested_queries("linen")


def test_distinct_addresses_and_accounts_publish_a_suggestion(catalog, django_user_model):
    for n in range(2):
        search_and_click(f"203.0.113.{n}", "linen tunic", catalog["Silk blouse"], click=n == 0)
    refresh_suggestions()
    assert "linen tunic" not in suggested_queries("linen")  # two shoppers: below the threshold of 3
    member = Client(REMOTE_ADDR="203.0.113.0")  # an account counts on its own, wherever it is
    member.force_login(django_user_model.objects.create_user("member"))
    member.get(SEARCH, {"q": "linen tunic"})
    refresh_suggestions()
    assert suggested_queries("linen") == ["linen tunic"]


def test_the_log_keeps_a_salted_hash_never_the_address(catalog, settings):
    Client(REMOTE_ADDR="203.0.113.77").get(SEARCH, {"q": "dress"})
    row = SearchQuery.objects.get()
    assert row.client_hash == client_hash(address="203.0.113.77") and "203.0.113.77" not in str(row.__dict__)
    settings.SECRET_KEY = "another-secret"
    assert client_hash(address="203.0.113.77") != row.client_hash  # keyed: not a plain hash of the address
    # IPv6: one /64 is one subscriber.
    assert client_hash(address="2001:db8:1:2::1") == client_hash(address="2001:db8:1:2:ffff::9")
    assert client_hash(address="2001:db8:1:3::1") != client_hash(address="2001:db8:1:2::1")


def test_forwarded_for_is_read_only_behind_declared_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9")
    assert client_address(request) == "10.0.0.2"
    settings.REST_FRAMEWORK = {"NUM_PROXIES": 1}
    assert client_address(request) == "203.0.113.9"  # what the host's one proxy saw


# --- 5. moderation -------------------------------------------------------------------------------


def publish(catalog, query: str) -> None:
    """``query`` searched by three shoppers at three addresses, one of whom clicked."""
    for n in range(3):
        search_and_click(f"198.51.100.{n}", query, catalog["Silk blouse"], click=n == 0)
    refresh_suggestions()


def test_a_blocked_phrase_is_never_suggested(catalog):
    publish(catalog, "linen tunic")
    assert suggested_queries("linen") == ["linen tunic"]
    block("Linen  Tunic")
    assert suggested_queries("linen") == []  # at once
    refresh_suggestions()
    assert suggested_queries("linen") == []  # and after every refresh


def test_words_and_patterns_block_queries(catalog):
    publish(catalog, "linen tunic")
    block("tunic", match="word")
    assert suggested_queries("linen") == []
    SuggestionRule.objects.all().delete()
    refresh_suggestions()
    assert suggested_queries("linen") == ["linen tunic"]
    block(r"^linen\b", match="pattern")
    assert suggested_queries("linen") == []


@pytest.mark.parametrize(
    "query", ["www.cheap-pills.example", "buy at spam-shop.com", "mail me@example.org", "call +1 (555) 123-4567"]
)
def test_web_and_mail_addresses_and_phone_numbers_are_blocked_by_default(catalog, query):
    publish(catalog, query)
    assert [q for q in suggested_queries(query.split()[0]) if q == query.lower()] == []


def test_approval_overrides_the_default_patterns_and_a_block_wins(catalog, settings):
    publish(catalog, "www.cheap-pills.example")
    approve("www.cheap-pills.example")
    refresh_suggestions()
    assert suggested_queries("www") == ["www.cheap-pills.example"]
    block("www.cheap-pills.example")
    assert suggested_queries("www") == []


def test_approved_only_mode(catalog, settings):
    publish(catalog, "linen tunic")
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_SUGGESTIONS_APPROVED_ONLY": True}
    refresh_suggestions()
    assert suggested_queries("linen") == []
    approve("linen tunic")
    refresh_suggestions()
    assert suggested_queries("linen") == ["linen tunic"]


def test_admin_moderation_list(catalog, admin_client):
    publish(catalog, "linen tunic")
    listing = admin_client.get("/admin/recommender/publishedquery/")
    assert listing.status_code == 200 and "linen tunic" in listing.content.decode()
    phrase = catalog and SearchQuery.objects.filter(normalized="linen tunic").first()
    assert phrase is not None
    from recommender.models import SuggestionPhrase

    pk = SuggestionPhrase.objects.get(kind="query", normalized="linen tunic").pk
    done = admin_client.post(
        "/admin/recommender/publishedquery/", {"action": "block_phrases", "_selected_action": [pk]}, follow=True
    )
    assert done.status_code == 200 and suggested_queries("linen") == []
    assert SuggestionRule.objects.filter(action="block", match="phrase", text="linen tunic").exists()
    bad = admin_client.post(
        "/admin/recommender/suggestionrule/add/",
        {"action": "block", "match": "pattern", "text": "(unclosed", "note": ""},
    )
    assert bad.status_code == 200 and "Not a valid regular expression" in bad.content.decode()
    added = admin_client.post(
        "/admin/recommender/suggestionrule/add/", {"action": "block", "match": "word", "text": "Tunic", "note": "spam"}
    )
    assert added.status_code == 302 and SuggestionRule.objects.filter(match="word", text="tunic").exists()
    # From the search log: block a query before it is ever published.
    row = SearchQuery.objects.filter(normalized="linen tunic").first()
    admin_client.post("/admin/recommender/searchquery/", {"action": "block_phrases", "_selected_action": [row.pk]})
    assert SuggestionRule.objects.filter(text="linen tunic").count() == 1


# --- 8. NUL, control characters and absurd prices ------------------------------------------------


def test_api_refuses_nul_and_absurd_prices_with_the_field(client, catalog):
    for params, field in [
        ({"q": "dress\x00"}, "q"),
        ({"q": "dress", "min_price": "1e999999"}, "min_price"),
        ({"q": "dress", "max_price": "inf"}, "max_price"),
        ({"q": "dress", "min_price": "NaN"}, "min_price"),
        ({"q": "dress", "max_price": "1e-999999"}, "max_price"),
    ]:
        response = client.get(SEARCH, params)
        assert response.status_code == 400 and field in response.json(), (params, response.content)


def test_control_characters_never_reach_the_log(client, catalog):
    client.session  # noqa: B018 - a shopper with a session: the event gets the query too
    assert client.get(SEARCH, {"q": "wool\x1b[31m  coat\x07"}).status_code == 200
    row = SearchQuery.objects.get()
    assert row.query == "wool [31m coat" and row.normalized == "wool [31m coat"
    assert Event.objects.get(type="search").query == "wool [31m coat"


def test_python_search_with_a_nul_character_is_logged_clean(catalog, rf):
    from django.contrib.auth.models import AnonymousUser

    from recommender.search import search

    request = rf.get("/")
    request.user = AnonymousUser()
    results = search("wool coat\x00", request=request)
    assert results.keys[0] == catalog["Wool coat"]
    assert SearchQuery.objects.get().query == "wool coat"


def render_results(query_string: str) -> str:
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/shop/?" + query_string)
    request.session = SessionStore()
    request.user = AnonymousUser()
    return Template("{% load recommender_search %}{% search_results %}").render(Context({"request": request}))


def test_template_tag_searches_a_query_with_nul(catalog):
    html = render_results("q=wool%20coat%00")
    assert "Wool coat" in html and "for “wool coat”" in html and "\x00" not in html
    assert SearchQuery.objects.get().query == "wool coat"


def test_template_tag_leaves_out_an_absurd_price_and_says_so(catalog):
    html = render_results("q=wool%20coat&min_price=1e999999&max_price=inf")
    assert "Wool coat" in html
    assert "The minimum price was ignored" in html and "The maximum price was ignored" in html
    assert "99,999,999.9999" in html


def test_template_tag_says_search_is_unavailable_instead_of_an_empty_block(catalog, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_TEXT_CONFIG": "no_such_configuration"}
    html = render_results("q=wool%20coat")
    assert "Search is unavailable right now" in html and 'role="alert"' in html


@pytest.fixture
def demo_pages(settings):
    """The demo shop's URLs and templates over the test catalog."""
    settings.ROOT_URLCONF = "shopdemo.urls"
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [ROOT / "shopdemo" / "templates"]}]
    settings.TEMPLATES[0]["OPTIONS"] = {
        **settings.TEMPLATES[0]["OPTIONS"],
        "context_processors": [
            *settings.TEMPLATES[0]["OPTIONS"]["context_processors"],
            "shopdemo.catalog.context_processors.shop",
        ],
    }


@pytest.mark.urls("shopdemo.urls")
def test_demo_search_page_with_nul_and_absurd_price(catalog, demo_pages):
    page = Client().get("/search/?q=wool%20coat%00")
    html = page.content.decode()
    assert page.status_code == 200 and "Wool coat" in html and "recommender-card" in html
    priced = Client().get("/search/", {"q": "wool coat", "min_price": "1e999999"}).content.decode()
    assert "The minimum price was ignored" in priced and "Wool coat" in priced
    assert Session.objects.count() == 0  # nor did the page make a session per search
    assert SearchQuery.objects.filter(query="wool coat").count() == 2
