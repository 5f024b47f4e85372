"""The search REST endpoints: reply shape, filters, bad input, search by image, the search log and
its click/purchase outcomes, and the OpenAPI schema. Mounted by this module's own URLconf, as
``recommender.api.urls`` mounts them (namespace ``recommender_api``)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import include, path
from django.utils import timezone

from recommender.events import SESSION_ID_KEY, record_event
from recommender.models import Event, SearchQuery
from recommender.privacy import session_hash
from recommender.search.receivers import connect
from tests.factories import jpeg_bytes
from tests.test_search_ranking import RED, shared_catalog

urlpatterns = [path("api/recommender/", include(("recommender.api.search_urls", "recommender_api")))]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

SEARCH = "/api/recommender/search/"
IMAGE = "/api/recommender/search/image/"
SUGGEST = "/api/recommender/suggest/"


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker, tiny_model_dir):
    with shared_catalog(django_db_blocker, tiny_model_dir) as keys:
        yield keys


@pytest.fixture(autouse=True)
def receivers():
    connect()  # what RecommenderConfig.ready() calls


def test_search_reply_shape(client, catalog):
    response = client.get(SEARCH, {"q": "pullover", "limit": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"strategy", "total", "results", "facets", "did_you_mean"}
    assert body["strategy"] == "search" and body["total"] >= 2 and body["did_you_mean"] is None
    assert len(body["results"]) == 2
    first = body["results"][0]
    assert set(first) == {"product_id", "score", "reason", "position", "title", "price", "category", "url"}
    assert (
        first["category"] == "Sweater"
        and isinstance(first["score"], float)
        and re.fullmatch(r"\d+\.\d\d", first["price"])
    )
    assert [r["position"] for r in body["results"]] == [1, 2]
    assert first["reason"] == "Matches “pullover” in the title"  # "Wool jumper": the lexicon says jumper
    assert {f["value"] for f in body["facets"]["category"]} >= {"Sweater"}


def test_filters_paging_and_did_you_mean(client, catalog):
    body = client.get(SEARCH, {"q": "dress", "category": ["Dress", "Skirt"], "max_price": "40"}).json()
    assert {r["product_id"] for r in body["results"]} <= {
        catalog["Strap dress"],
        catalog["Denim skirt"],
        catalog["Pleated skirt"],
    }
    assert catalog["Strap dress"] in {r["product_id"] for r in body["results"]}
    all_ids = [r["product_id"] for r in client.get(SEARCH, {"q": "cotton", "limit": 50}).json()["results"]]
    second = client.get(SEARCH, {"q": "cotton", "limit": 2, "offset": 2}).json()
    assert [r["product_id"] for r in second["results"]] == all_ids[2:4]
    assert client.get(SEARCH, {"q": "skrit"}).json()["did_you_mean"] == "skirt"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "-dress"}, "q"),
        ({"q": "dress", "limit": "0"}, "limit"),
        ({"q": "dress", "limit": "many"}, "limit"),
        ({"q": "dress", "offset": "-1"}, "offset"),
        ({"q": "dress", "offset": "100000"}, "offset"),
        ({"q": "dress", "min_price": "-5"}, "min_price"),
        ({"q": "dress", "min_price": "cheap"}, "min_price"),
        ({"q": "dress", "max_price": "1e999"}, "max_price"),
        ({"q": "dress", "min_price": "50", "max_price": "10"}, "max_price"),
        ({"q": "dress", "in_stock": "perhaps"}, "in_stock"),
        ({"q": "dress", "category": ["x" * 300]}, "category"),
    ],
)
def test_bad_parameters_are_400_with_the_field(client, catalog, params, field):
    response = client.get(SEARCH, params)
    assert response.status_code == 400, response.content
    assert field in response.json() and all(isinstance(m, str) for m in response.json()[field])


def test_huge_query_is_cut_not_refused(client, catalog):
    response = client.get(SEARCH, {"q": "wool coat " * 1100})  # 11 kB
    assert response.status_code == 200
    assert response.json()["results"][0]["product_id"] == catalog["Wool coat"]
    logged = SearchQuery.objects.get()
    assert 400 < len(logged.query) <= 500 and len(logged.normalized) <= 500


def test_a_search_records_an_event_and_a_log_row(client, catalog):
    client.session  # noqa: B018 - a shopper with a session (a page view made it): searches create none
    body = client.get(SEARCH, {"q": "  Maroon   DRESS "}).json()
    sid = client.session[SESSION_ID_KEY]
    event = Event.objects.get(type="search")
    assert (event.query, event.result_count, event.session_key) == ("Maroon DRESS", body["total"], sid)
    row = SearchQuery.objects.get()
    assert (row.query, row.normalized, row.result_count) == ("Maroon DRESS", "maroon dress", body["total"])
    assert row.session_hash == session_hash(sid) and sid not in row.session_hash  # the privacy module's hash
    assert not row.clicked and not row.purchased


def test_click_and_purchase_mark_the_search_that_led_there(client, catalog):
    client.session  # noqa: B018 - a shopper with a session (a page view made it): searches create none
    client.get(SEARCH, {"q": "maroon dress"})
    client.get(SEARCH, {"q": "ivory skirt"})
    sid = client.session[SESSION_ID_KEY]
    record_event("click", session_key="someone-else", product_key=catalog["Midi dress"])
    assert not SearchQuery.objects.filter(clicked=True).exists()
    record_event("click", session_key=sid, product_key=catalog["Pleated skirt"])
    assert list(SearchQuery.objects.filter(clicked=True).values_list("normalized", flat=True)) == ["ivory skirt"]
    record_event("purchase", session_key=sid, product_key=catalog["Pleated skirt"])
    assert SearchQuery.objects.get(normalized="ivory skirt").purchased
    assert not SearchQuery.objects.get(normalized="maroon dress").purchased
    # A click long after the search is not credited to it.
    client.get(SEARCH, {"q": "wool coat"})
    record_event(
        "click", session_key=sid, product_key=catalog["Wool coat"], created_at=timezone.now() + timedelta(hours=2)
    )
    assert not SearchQuery.objects.get(normalized="wool coat").clicked


def test_search_by_image(client, catalog):
    upload = SimpleUploadedFile("look.jpg", jpeg_bytes(RED), content_type="image/jpeg")
    response = client.post(IMAGE + "?limit=3", {"image": upload})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["strategy"] == "search" and body["did_you_mean"] is None and len(body["results"]) == 3
    red = {catalog["Wool jumper"], catalog["Midi dress"]}  # the same red picture
    assert {r["product_id"] for r in body["results"][:2]} == red
    filtered = client.post(IMAGE + "?category=Dress", {"image": SimpleUploadedFile("a.jpg", jpeg_bytes(RED))}).json()
    assert filtered["results"][0]["product_id"] == catalog["Midi dress"]
    assert {r["category"] for r in filtered["results"]} == {"Dress"}


def test_every_search_records_an_event_with_its_kind(client, catalog):
    client.session  # noqa: B018 - a shopper with a session (a page view made it): searches create none
    text = client.get(SEARCH, {"q": "black dress"}).json()
    sid = client.session[SESSION_ID_KEY]
    upload = SimpleUploadedFile("look.jpg", jpeg_bytes(RED), content_type="image/jpeg")
    image = client.post(IMAGE + "?category=Dress", {"image": upload}).json()
    events = list(Event.objects.filter(type="search").order_by("created_at", "pk"))
    assert [(e.strategy, e.query, e.result_count, e.session_key) for e in events] == [
        ("text", "black dress", text["total"], sid),
        ("image", "", image["total"], sid),  # a photo has no words: an empty query marks it
    ]
    assert image["total"] == 2 and events[1].processed  # profiles learn nothing from it
    assert list(SearchQuery.objects.values_list("normalized", flat=True)) == ["black dress"]  # the log is of words


def test_a_click_after_an_image_search_is_not_credited_to_the_text_search_before(client, catalog):
    client.session  # noqa: B018 - a shopper with a session (a page view made it): searches create none
    client.get(SEARCH, {"q": "maroon dress"})
    client.post(IMAGE, {"image": SimpleUploadedFile("look.jpg", jpeg_bytes(RED))})
    sid = client.session[SESSION_ID_KEY]
    record_event("click", session_key=sid, product_key=catalog["Midi dress"])
    assert not SearchQuery.objects.filter(clicked=True).exists()
    client.get(SEARCH, {"q": "ivory skirt"})
    record_event("click", session_key=sid, product_key=catalog["Pleated skirt"])
    assert list(SearchQuery.objects.filter(clicked=True).values_list("normalized", flat=True)) == ["ivory skirt"]


def test_facets_are_disjunctive_in_both_searches(client, catalog):
    def categories(body: dict) -> dict[str, int]:
        return {f["value"]: f["count"] for f in body["facets"]["category"]}

    plain = client.get(SEARCH, {"q": "cotton", "limit": 100}).json()
    tees = client.get(SEARCH, {"q": "cotton", "category": "T-shirt", "limit": 100}).json()
    assert {r["category"] for r in tees["results"]} == {"T-shirt"}
    assert categories(tees) == categories(plain) and len(categories(plain)) >= 4
    picture = jpeg_bytes(RED)
    everything = client.post(IMAGE + "?limit=100", {"image": SimpleUploadedFile("a.jpg", picture)}).json()
    dresses = client.post(IMAGE + "?limit=100&category=Dress", {"image": SimpleUploadedFile("a.jpg", picture)}).json()
    assert {r["category"] for r in dresses["results"]} == {"Dress"}
    assert categories(dresses) == categories(everything) and len(categories(everything)) >= 4
    assert sum(p["count"] for p in dresses["facets"]["price"]) == dresses["total"] == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF87a definitely not a picture", "image"),  # "not an image" / "corrupt image: ..."
        (b"%PDF-1.4 a document", "not an image"),
        (jpeg_bytes(RED)[:200], "truncated"),
        (b"", "empty"),
    ],
)
def test_bad_image_uploads_are_400_with_the_reason(client, catalog, data, reason):
    response = client.post(IMAGE, {"image": SimpleUploadedFile("x.jpg", data, content_type="image/jpeg")})
    assert response.status_code == 400, response.content
    assert reason in " ".join(response.json()["image"]).lower()


def test_image_upload_misuse(client, catalog, settings):
    assert client.post(IMAGE, {}).status_code == 400
    assert client.post(IMAGE, {"image": "text"}).json().keys() == {"image"}
    assert client.post(IMAGE, data=b"{}", content_type="application/json").status_code == 415
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_MAX_IMAGE_BYTES": 100}
    big = client.post(IMAGE, {"image": SimpleUploadedFile("big.jpg", jpeg_bytes(RED))})
    assert big.status_code == 400 and "too large" in big.json()["image"][0]
    bad_filter = client.post(IMAGE + "?limit=0", {"image": SimpleUploadedFile("a.jpg", jpeg_bytes(RED))})
    assert bad_filter.status_code == 400 and "limit" in bad_filter.json()


def test_suggest_endpoint(client, catalog):
    body = client.get(SUGGEST, {"q": "Ski", "limit": 5}).json()
    assert {"text": "Skirt", "kind": "category"} in body["suggestions"]
    assert all(s["kind"] in {"query", "product", "category"} for s in body["suggestions"])
    assert len(client.get(SUGGEST, {"q": "s", "limit": 500}).json()["suggestions"]) <= 20
    assert client.get(SUGGEST, {"q": ""}).status_code == 400
    assert client.get(SUGGEST, {"q": "ski", "limit": "x"}).json().keys() == {"limit"}
    assert client.get(SUGGEST, {"q": "%_\\"}).status_code == 200  # LIKE wildcards are literal


def test_openapi_schema_documents_the_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    from recommender.api.search_urls import urlpatterns as search_urlpatterns

    schema = SchemaGenerator(patterns=search_urlpatterns).get_schema(request=None, public=True)
    operations = {op["operationId"]: op for item in schema["paths"].values() for op in item.values()}
    assert set(operations) == {"recommender_search", "recommender_search_image", "recommender_suggest"}
    search_params = {p["name"] for p in operations["recommender_search"]["parameters"]}
    assert {"q", "limit", "offset", "category", "min_price", "max_price"} <= search_params
    assert "400" in operations["recommender_search"]["responses"]
    assert "multipart/form-data" in operations["recommender_search_image"]["requestBody"]["content"]
    reply = schema["components"]["schemas"]["SearchResponse"]["properties"]
    assert {"strategy", "total", "results", "facets", "did_you_mean"} <= set(reply)
