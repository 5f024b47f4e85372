"""Suggestions and related searches: the privacy threshold, catalog phrases, prefix and fuzzy
matching, the materialised table's refresh and pruning tasks, and the search template tags."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import Context, Template, TemplateSyntaxError
from django.test import RequestFactory
from django.urls import include, path

from recommender.models import Event, RecommenderSettings, SearchQuery
from recommender.models.suggestions import SuggestionPhrase
from recommender.search import (
    Suggestion,
    log_search,
    refresh_suggestions,
    related_searches,
    search,
    search_by_image,
    suggest,
)
from recommender.search.receivers import connect
from tests.factories import jpeg_bytes, product_with_image
from tests.test_search_ranking import BLACK, RED, shared_catalog

urlpatterns = [path("api/recommender/", include(("recommender.api.search_urls", "recommender_api")))]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker, tiny_model_dir):
    with shared_catalog(django_db_blocker, tiny_model_dir) as keys:
        yield keys


@pytest.fixture(autouse=True)
def receivers():
    connect()


def searched(query: str, sessions: range | list, *, clicked: bool = True, product_key: str = "") -> None:
    """``query`` searched once by each session, each from its own address (suggestions count
    distinct shoppers: accounts or addresses); each then clicks a result when ``clicked``."""
    from recommender.events import record_event

    for n in sessions:
        log_search(query, 3, session_key=f"session-{n}", address=f"198.51.100.{n}")
        if clicked:
            record_event("click", session_key=f"session-{n}", product_key=product_key, check_product=False)


def suggested_queries(prefix: str) -> list[str]:
    return [s.text for s in suggest(prefix, limit=20) if s.kind == "query"]


def test_privacy_threshold_of_logged_queries(catalog):
    n = RecommenderSettings.get().suggestion_min_sessions
    assert n == 3
    searched("linen shirt", range(n - 1), product_key=catalog["Silk blouse"])
    searched("linen shirt", [0, 1, 0, 1], product_key=catalog["Silk blouse"])  # the same sessions again
    refresh_suggestions()
    assert "linen shirt" not in suggested_queries("lin")  # N-1 sessions, however many searches
    searched("linen shirt", [n - 1], product_key=catalog["Silk blouse"])
    refresh_suggestions()
    assert suggested_queries("lin") == ["linen shirt"]  # N sessions
    settings = RecommenderSettings.get()
    settings.suggestion_min_sessions = n + 1
    settings.save()
    assert suggested_queries("lin") == []  # a stricter threshold applies at once, before any refresh


def test_queries_without_a_click_or_purchase_are_never_suggested(catalog):
    searched("velvet gloves", range(10), clicked=False)
    refresh_suggestions()
    assert suggested_queries("velv") == []
    assert SearchQuery.objects.filter(normalized="velvet gloves").count() == 10
    assert not SuggestionPhrase.objects.filter(normalized="velvet gloves").exists()


def test_purchases_count_as_success(catalog):
    from recommender.events import record_event

    for n in range(3):
        log_search("wool coat", 1, session_key=f"buyer-{n}", address=f"203.0.113.{n}")
        record_event("purchase", session_key=f"buyer-{n}", product_key=catalog["Wool coat"])
    refresh_suggestions()
    assert "wool coat" in suggested_queries("wool")


def test_catalog_phrases_prefix_before_inner_words_and_fuzzy(catalog):
    texts = [s.text for s in suggest("ski")]
    assert texts[0] == "Skirt"  # the category starts with it
    assert {"Denim skirt", "Pleated skirt"} <= set(texts)  # a word inside the product name starts with it
    assert "Hidden skirt" not in texts  # not sellable
    assert "Sweater" in [s.text for s in suggest("sweter")]  # a typo: trigram similarity
    assert suggest("skrit")[0].text == "Skirt"  # a transposition: the spelling vocabulary
    assert suggest("") == [] and suggest("   ") == []


def test_colour_category_phrases(catalog, settings, django_capture_on_commit_callbacks):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_FACET_ATTRIBUTES": {"colour": "colour"}}
    refresh_suggestions()
    assert Suggestion("black dress", "category") not in suggest("black d")  # one black dress: no phrase
    with django_capture_on_commit_callbacks(execute=True):
        product_with_image(
            "Jersey dress", "Dress in soft jersey", BLACK, category="Dress", colour="Black", price=Decimal("19.99")
        )
    refresh_suggestions()
    assert Suggestion("black dress", "category") in suggest("black d")


def test_popular_queries_rank_first_and_duplicates_collapse(catalog):
    searched("skirt", range(5), product_key=catalog["Denim skirt"])
    refresh_suggestions()
    suggestions = suggest("skirt")
    assert suggestions[0].text == "skirt" and suggestions[0].kind == "query"
    assert [s.text.lower() for s in suggestions].count("skirt") == 1  # not again as the category


def test_related_searches_from_shared_sessions(catalog):
    skirt, dress = catalog["Denim skirt"], catalog["Midi dress"]
    searched("black dress", range(4), product_key=dress)
    searched("red skirt", range(3), product_key=skirt)  # sessions 0-2 searched both
    searched("denim", range(10, 14), product_key=skirt)  # other sessions
    searched("private thing", [0, 1], product_key=skirt)  # below the threshold
    refresh_suggestions()
    assert related_searches("black dress")[0] == "red skirt"
    assert "private thing" not in related_searches("black dress")
    assert related_searches("Black  Dress") == related_searches("black dress")
    assert related_searches("") == []


def test_did_you_mean_from_popular_logged_queries(catalog):
    searched("linen shirt", range(3), product_key=catalog["Silk blouse"])
    refresh_suggestions()
    results = search("lnen shirt", record=False)
    assert results.did_you_mean == "linen shirt"


def test_did_you_mean_offers_only_popular_logged_queries_similar_enough_and_never_the_query_itself(catalog):
    searched("zorblax jacket", range(3), product_key=catalog["Silk blouse"])
    searched("quimbly coat", range(2), product_key=catalog["Silk blouse"])  # below the privacy threshold
    refresh_suggestions()
    assert search("zorblux jacket", record=False).did_you_mean == "zorblax jacket"
    assert search("zorblax jacket", record=False).did_you_mean != "zorblax jacket"
    assert search("quimbli coat", record=False).did_you_mean is None
    assert search("zzzzzz", record=False).did_you_mean is None  # nothing logged is similar enough


def test_refresh_task_and_the_look_back_window(catalog, settings):
    from datetime import timedelta

    from django.utils import timezone

    from recommender.tasks_search import refresh_suggestions as refresh_task

    searched("cosy wool coat", range(3), product_key=catalog["Wool coat"])
    SearchQuery.objects.update(created_at=timezone.now() - timedelta(days=400))
    counts = refresh_task.delay().get()
    assert counts["term"] > 20 and counts["category"] >= 8 and counts["product"] >= 14
    assert "cosy wool coat" not in suggested_queries("cosy")  # older than SEARCH_LOG_DAYS (180)
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_LOG_DAYS": 500}
    refresh_task.delay().get()
    assert "cosy wool coat" in suggested_queries("cosy")


def test_search_logs_only_with_a_shopper_and_when_asked(catalog):
    search("skirt", record=False, session_key="abc")
    search("skirt")  # no shopper: nothing to attribute
    assert not SearchQuery.objects.exists() and not Event.objects.exists()
    search("skirt", session_key="abc")
    assert SearchQuery.objects.count() == 1 and Event.objects.filter(type="search", session_key="abc").count() == 1


def test_search_by_image_logs_only_with_a_shopper_and_when_asked(catalog):
    search_by_image(jpeg_bytes(RED), record=False, session_key="abc")
    search_by_image(jpeg_bytes(RED))  # no shopper: nothing to attribute
    assert not Event.objects.exists()
    results = search_by_image(jpeg_bytes(RED), limit=2, session_key="abc")
    event = Event.objects.get()
    assert (event.type, event.strategy, event.query, event.session_key) == ("search", "image", "", "abc")
    assert event.result_count == results.total > len(results.hits) == 2  # every result, not the page
    assert not SearchQuery.objects.exists()  # no words: nothing for suggestions or query analytics
    with pytest.raises(ValueError, match="kind"):
        log_search("red", 1, kind="video", session_key="abc")


# --- template tags ---------------------------------------------------------------------------


def render(source: str, path: str = "/shop/", image: bytes | None = None) -> str:
    """``source`` rendered for a GET of ``path``, or a POST of ``image`` (multipart) to it."""
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore

    if image is None:
        request = RequestFactory().get(path)
    else:
        request = RequestFactory().post(path, {"image": SimpleUploadedFile("look.jpg", image)})
    request.session = SessionStore()
    request.session.create()  # a shopper with a session (searching makes none)
    request.user = AnonymousUser()
    return Template("{% load recommender_search %}" + source).render(Context({"request": request}))


def test_search_box_renders_an_accessible_combobox(catalog):
    html = render('{% search_box action="/search/" placeholder="Find" %}', "/shop/?q=red+%3Cdress%3E")
    assert 'role="combobox"' in html and 'aria-autocomplete="list"' in html and 'role="listbox"' in html
    listbox = html.split('aria-controls="')[1].split('"')[0]
    assert f'id="{listbox}"' in html
    assert 'data-recommender-suggest="/api/recommender/suggest/"' in html
    assert "recommender/suggest.js" in html and "recommender/search.css" in html
    assert 'value="red &lt;dress&gt;"' in html  # escaped
    assert 'action="/search/"' in html


def test_search_results_tag(catalog):
    html = render("{% search_results limit=3 %}", "/shop/?q=skrit")
    assert "Did you mean" in html and "Denim skirt" in html and 'data-rec-slot="search"' in html
    assert "?q=skirt" in html  # the did-you-mean link
    assert SearchQuery.objects.filter(normalized="skrit").exists()
    assert render("{% search_results %}", "/shop/").count("recommender-card") == 0
    paged = render("{% search_results limit=2 %}", "/shop/?q=cotton")
    assert 'rel="next"' in paged and "offset=2" in paged
    none = render("{% search_results %}", "/shop/?q=skirt&min_price=100000")
    assert "0 results for “skirt”" in none and "No products found." in none and "Type a few words" not in none


def test_search_results_tag_searches_by_an_uploaded_image(catalog):
    html = render("{% search_results limit=3 %}", "/shop/?category=Dress", image=jpeg_bytes(RED))
    assert "2 results for your image" in html and "Midi dress" in html and "Wool jumper" not in html
    assert 'rel="next"' not in html and "Refine" not in html  # links would lose the image
    event = Event.objects.get(type="search")
    assert (event.strategy, event.query, event.result_count) == ("image", "", 2) and event.session_key
    refused = render("{% search_results %}", "/shop/", image=b"%PDF-1.4 a document")
    assert "This file cannot be searched: not an image" in refused and "recommender-card" not in refused
    assert Event.objects.count() == 1


def test_search_image_form(catalog):
    html = render('{% search_image_form action="/search/" label="Search by photo" %}')
    assert 'method="post"' in html and 'enctype="multipart/form-data"' in html and 'action="/search/"' in html
    assert 'type="file" name="image"' in html and 'name="csrfmiddlewaretoken"' in html
    field = html.split('for="')[1].split('"')[0]
    assert f'id="{field}"' in html and "Search by photo" in html


def test_malformed_tags_fail_at_compile_time():
    with pytest.raises(TemplateSyntaxError):
        Template("{% load recommender_search %}{% search_box bogus=1 %}")
    with pytest.raises(TemplateSyntaxError):
        Template("{% load recommender_search %}{% search_results 1 2 3 4 %}")
    with pytest.raises(TemplateSyntaxError):
        Template("{% load recommender_search %}{% search_image_form bogus=1 %}")
