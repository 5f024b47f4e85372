"""Hybrid search on a small fixture catalog through the real stack: MiniLM text tower, pgvector,
Postgres full text and pg_trgm. Paraphrases, colour words, patterns and typos must find what
the shopper meant; filters, facets, paging, rules and eligibility must hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from recommender.indexing import reindex
from recommender.models import MerchandisingRule
from recommender.search import EmptyQuery, SearchFilters, parse_query, ranked_lists, refresh_suggestions, search
from recommender.versions import serving_version
from tests.factories import product_with_image

pytestmark = pytest.mark.django_db

BLACK, RED, WHITE, NAVY, BEIGE, BLUE, GREY, PINK = (
    (15, 15, 15),
    (120, 20, 30),
    (240, 240, 235),
    (20, 30, 90),
    (200, 180, 150),
    (60, 90, 200),
    (128, 128, 128),
    (240, 190, 200),
)

# name, description, category, colour, price, rgb
CATALOG = [
    ("Wool jumper", "Chunky knitted jumper in soft wool with ribbed cuffs", "Sweater", "Dark Red", "39.99", RED),
    ("Fine-knit top", "Fine-knit sweater in a cotton blend with a round neckline", "Sweater", "Black", "24.99", BLACK),
    (
        "Tailored trousers",
        "Suit trousers in woven fabric with a concealed zip fly",
        "Trousers",
        "Dark Blue",
        "49.99",
        NAVY,
    ),
    ("Striped trousers", "Ankle-length trousers in striped woven fabric", "Trousers", "Grey", "34.99", GREY),
    ("Denim skirt", "Short skirt in washed denim with a zip at the front", "Skirt", "Blue", "29.99", BLUE),
    ("Pleated skirt", "Calf-length pleated skirt in a satin weave", "Skirt", "Off White", "39.99", WHITE),
    ("Cotton T-shirt", "T-shirt in soft cotton jersey with a round neckline", "T-shirt", "White", "9.99", WHITE),
    ("Boxy T-shirt", "Boxy T-shirt in heavy cotton jersey with dropped shoulders", "T-shirt", "Black", "12.99", BLACK),
    (
        "Silk blouse",
        "Blouse in airy silk with a collar and buttons down the front",
        "Blouse",
        "Light Pink",
        "44.99",
        PINK,
    ),
    ("Crepe blouse", "Blouse in leopard-print crepe with long sleeves", "Blouse", "Beige", "34.99", BEIGE),
    ("Midi dress", "Calf-length dress in a viscose weave with a V-neck", "Dress", "Dark Red", "59.99", RED),
    ("Strap dress", "Short dress in jersey with narrow shoulder straps", "Dress", "Black", "29.99", BLACK),
    ("Wool coat", "Long coat in a wool blend with notch lapels", "Coat", "Beige", "129.00", BEIGE),
    ("Canvas sneakers", "Trainers in cotton canvas with rubber soles", "Sneakers", "White", "24.99", WHITE),
]


def build_catalog() -> dict[str, str]:
    """Products, vectors and the suggestion vocabulary; returns {product name: key}."""
    keys = {}
    for name, description, category, colour, price, rgb in CATALOG:
        product = product_with_image(name, description, rgb, category=category, colour=colour, price=Decimal(price))
        keys[name] = str(product.pk)
    sold_out = product_with_image(
        "Sold-out dress",
        "Short red dress in jersey",
        RED,
        category="Dress",
        colour="Red",
        price=Decimal("19.99"),
        in_stock=False,
    )
    hidden = product_with_image(
        "Hidden skirt",
        "Mini skirt in denim",
        BLUE,
        category="Skirt",
        colour="Blue",
        price=Decimal("19.99"),
        active=False,
    )
    keys["Sold-out dress"], keys["Hidden skirt"] = str(sold_out.pk), str(hidden.pk)
    reindex()
    refresh_suggestions()
    return keys


def drop_catalog() -> None:
    """Undo build_catalog() and everything searches wrote (module fixtures commit their data)."""
    from django.core.cache import cache

    from recommender.models import Event, ModelVersion, ProductVector, Profile, SearchQuery, SuggestionPhrase
    from recommender.storage import drop_indexes
    from tests.testapp.models import Product

    for version in ModelVersion.objects.all():
        drop_indexes(version)
    for model in (
        Event,
        Profile,
        SearchQuery,
        SuggestionPhrase,
        MerchandisingRule,
        ProductVector,
        ModelVersion,
        Product,
    ):
        model.objects.all().delete()
    cache.clear()


@contextmanager
def shared_catalog(django_db_blocker, model_dir: Path) -> Iterator[dict[str, str]]:
    """The fixture catalog, built once for a test module (searches only read it)."""
    spec = {"MODEL": f"local-dir:{model_dir}", "PRETRAINED": None, "DEVICE": "cpu", "BATCH_SIZE": 16}
    with override_settings(RECOMMENDER={**django_settings.RECOMMENDER, "ENCODER": spec}), django_db_blocker.unblock():
        try:
            yield build_catalog()
        finally:
            drop_catalog()


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker, tiny_model_dir) -> Iterator[dict[str, str]]:
    with shared_catalog(django_db_blocker, tiny_model_dir) as keys:
        yield keys


def top(query: str, n: int = 2, **kwargs) -> list[str]:
    return search(query, record=False, **kwargs).keys[:n]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("pullover", {"Wool jumper", "Fine-knit top"}),  # synonym the catalog never uses
        ("slacks", {"Tailored trousers", "Striped trousers"}),
        ("tee", {"Cotton T-shirt", "Boxy T-shirt"}),
        ("skrit", {"Denim skirt", "Pleated skirt"}),  # transposition: trigram similarity is only 0.2
        ("blouze", {"Silk blouse", "Crepe blouse"}),
        ("sneakrs", {"Canvas sneakers"}),
    ],
)
def test_paraphrases_and_typos_find_the_products(catalog, query, expected):
    names = {v: k for k, v in catalog.items()}
    assert {names[k] for k in top(query, len(expected))} == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("maroon dress", "Midi dress"),  # colour word not in the catalog -> "dark red"
        ("ivory skirt", "Pleated skirt"),  # -> "off white"
        ("navy slacks", "Tailored trousers"),
        ("pinstripe trousers", "Striped trousers"),
        ("leopard blouse", "Crepe blouse"),
        ("black tee", "Boxy T-shirt"),
    ],
)
def test_colour_and_pattern_words_rank_the_right_product_first(catalog, query, expected):
    assert top(query, 1) == [catalog[expected]]


def test_misspelling_gets_did_you_mean_and_correct_queries_do_not(catalog):
    results = search("skrit", record=False)
    assert results.did_you_mean == "skirt" and results.searched == "skirt"
    assert search("skirt", record=False).did_you_mean is None
    assert search("denim skrit", record=False).did_you_mean == "denim skirt"


def test_parsing_expands_and_corrects(catalog):
    parsed = parse_query('Maroon  PULLOVER -"v-neck" skrit')
    groups = {g.text: g for g in parsed.groups}
    assert "dark red" in groups["maroon"].alternatives
    assert {"sweater", "jumper"} <= set(groups["pullover"].alternatives)
    assert groups["skrit"].correction == "skirt"
    assert groups["v-neck"].negated and groups["v-neck"].quoted
    assert parsed.corrected == 'maroon pullover -"v-neck" skirt'


def test_negation_excludes_matches(catalog):
    keys = search("dress -jersey", record=False).keys
    assert catalog["Midi dress"] == keys[0] and catalog["Strap dress"] not in keys[:1]


def test_filters_category_price_and_stock(catalog):
    dresses = search("dress", filters=SearchFilters(categories=("Dress",)), record=False)
    assert set(dresses.keys) == {catalog["Midi dress"], catalog["Strap dress"]}  # sold-out one left out
    cheap = search("dress", filters=SearchFilters(categories=("Dress",), max_price=Decimal(40)), record=False)
    assert cheap.keys == [catalog["Strap dress"]]
    with_sold_out = search("dress", filters=SearchFilters(categories=("Dress",), in_stock=False), record=False)
    assert catalog["Sold-out dress"] in with_sold_out.keys
    priced = search("skirt", filters=SearchFilters(min_price=Decimal(30), max_price=Decimal(45)), record=False)
    assert all(Decimal(30) <= hit.price <= Decimal(45) for hit in priced.hits)
    assert catalog["Hidden skirt"] not in search("denim skirt", record=False).keys  # not sellable


def test_facets_count_every_result(catalog):
    results = search("dress", limit=1, record=False)
    categories = {f["value"]: f["count"] for f in results.facets["category"]}
    assert categories["Dress"] == 2 and sum(categories.values()) == results.total
    everything = search("dress", limit=100, record=False)
    assert Counter(h.category for h in everything.hits) == categories
    prices = results.facets["price"]
    assert sum(p["count"] for p in prices) == results.total
    assert all(p["max"] is None or p["min"] < p["max"] for p in prices)


def category_counts(results) -> dict[str, int]:
    return {f["value"]: f["count"] for f in results.facets["category"]}


def price_counts(results) -> dict[tuple, int]:
    return {(p["min"], p["max"]): p["count"] for p in results.facets["price"]}


def test_facets_are_disjunctive(catalog):
    """Each facet counts with every other active filter but not its own (what shoppers expect)."""
    names = {v: k for k, v in catalog.items()}
    plain = search("cotton", limit=100, record=False)
    assert len(category_counts(plain)) >= 4 and len(price_counts(plain)) >= 3  # a query across the catalog

    tees = search("cotton", filters=SearchFilters(categories=("T-shirt",)), limit=100, record=False)
    assert {names[k] for k in tees.keys} == {"Cotton T-shirt", "Boxy T-shirt"}  # the results are filtered
    assert category_counts(tees) == category_counts(plain)  # the other categories keep their counts
    assert price_counts(tees) == {(0, 25): 2}  # the price facet counts T-shirts only

    cheap = search("cotton", filters=SearchFilters(max_price=Decimal(20)), limit=100, record=False)
    assert set(cheap.keys) == set(tees.keys)
    assert price_counts(cheap) == price_counts(plain)  # every price range, not just the chosen one
    assert category_counts(cheap) == {"T-shirt": 2}  # the category facet counts cheap products only

    # Both: the category facet applies the price filter only, the price facet the category filter only.
    tops = SearchFilters(categories=("T-shirt", "Sneakers"))
    both = search(
        "cotton", filters=SearchFilters(categories=tops.categories, max_price=Decimal(20)), limit=100, record=False
    )
    assert set(both.keys) == set(tees.keys) and both.total == 2
    assert category_counts(both) == category_counts(cheap)
    assert price_counts(both) == price_counts(search("cotton", filters=tops, limit=100, record=False)) == {(0, 25): 3}


def test_disjunctive_facets_keep_rules_and_eligibility(catalog):
    blouses = search("dress", filters=SearchFilters(categories=("Blouse",)), limit=100, record=False)
    assert {h.category for h in blouses.hits} == {"Blouse"}
    assert category_counts(blouses)["Dress"] == 2  # the sold-out dress is not counted: in_stock still applies
    MerchandisingRule.objects.create(name="no coats", action="exclude", target="category", category="Coat")
    tees = search("cotton", filters=SearchFilters(categories=("T-shirt",)), limit=100, record=False)
    assert "Coat" not in category_counts(tees) and category_counts(tees)["Sweater"] == 2


def test_colour_facet_from_host_attribute(catalog, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_FACET_ATTRIBUTES": {"colour": "colour"}}
    results = search("dress", limit=100, record=False)
    colours = {f["value"]: f["count"] for f in results.facets["colour"]}
    assert colours == dict(Counter(p.colour for p in results.products()))
    assert colours["Dark Red"] >= 1 and colours["Black"] >= 1


def test_pagination_is_stable_and_disjoint(catalog):
    full = search("cotton", limit=50, record=False)
    assert full.total == len(full.keys) >= 4
    pages = [search("cotton", limit=2, offset=o, record=False) for o in range(0, full.total, 2)]
    assert [k for page in pages for k in page.keys] == full.keys
    assert all(page.total == full.total for page in pages)
    assert pages[0].next_offset == 2 and pages[0].previous_offset is None
    assert [h.position for h in pages[1].hits] == [3, 4]


def test_each_list_alone_and_fused(catalog):
    version = serving_version()
    lists = ranked_lists(parse_query("skrit"), SearchFilters(), version, k=20)
    assert set(lists) == {"text_vector", "fused_vector", "fulltext", "trigram"}
    skirts = {catalog["Denim skirt"], catalog["Pleated skirt"]}
    assert {k for k, _ in lists["fulltext"][:2]} == skirts  # through the spelling correction
    raw = ranked_lists(parse_query("skrit", correct=False), SearchFilters(), version, k=20)
    assert raw["fulltext"] == []  # keywords alone find nothing for a typo
    sneakers = ranked_lists(parse_query("sneakrs", correct=False), SearchFilters(), version, k=20)["trigram"]
    assert sneakers[0][0] == catalog["Canvas sneakers"]


def test_merchandising_rules_apply_to_search(catalog):
    MerchandisingRule.objects.create(name="no coats", action="exclude", target="category", category="Coat")
    assert catalog["Wool coat"] not in search("wool", record=False).keys
    MerchandisingRule.objects.create(
        name="pin", action="pin", target="product", product_key=catalog["Strap dress"], slot="search"
    )
    dress = search("dress", record=False)
    assert dress.keys[0] == catalog["Strap dress"] and dress.hits[0].score == 1e9
    assert catalog["Strap dress"] not in search("skirt", record=False).keys  # pins only among matches


def test_empty_and_huge_queries(catalog):
    for empty in ("", "   ", "-dress", '""'):
        with pytest.raises(EmptyQuery):
            search(empty, record=False)
    huge = "black dress " * 1000  # 12 kB
    results = search(huge + "\x00", record=False)
    assert results.keys and len(results.query) <= 200


def test_profile_and_popularity_rerank_matches_only(catalog, settings):
    from recommender.events import record_event
    from recommender.models import ProductVector, Profile

    version = serving_version()
    dresses = {catalog["Midi dress"], catalog["Strap dress"]}
    baseline = search("dress", record=False).keys[:2]
    assert set(baseline) == dresses
    underdog = baseline[1]
    vector = ProductVector.objects.get(version=version, product_key=underdog).embedding
    Profile.objects.create(session_key="fan", version=version, vector=list(vector))
    assert search("dress", record=False, session_key="fan").keys[:2] == baseline  # the default nudge is small
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_WEIGHTS": {"personal": 5.0}}
    assert search("dress", record=False, session_key="fan").keys[0] == underdog
    assert search("dress", record=False, session_key="stranger").keys[:2] == baseline
    assert catalog["Wool coat"] not in search("dress", record=False, session_key="fan").keys[:3]
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_WEIGHTS": {"personal": 0.0, "popularity": 5.0}}
    for n in range(3):
        record_event("purchase", session_key=f"buyer-{n}", product_key=underdog, update_profile=False)
    assert search("dress", record=False).keys[0] == underdog


def test_fusion_edit_distance_and_lexicon_units():
    from recommender.search import reciprocal_rank_fusion
    from recommender.search.lexicon import expansions, match_phrases
    from recommender.search.normalize import normalize_query
    from recommender.search.spelling import damerau_levenshtein, max_edits

    fused = reciprocal_rank_fusion(
        {"a": [("x", 9.0), ("y", 1.0)], "b": [("y", 0.5)], "c": [("z", 1.0)]}, {"a": 1.0, "b": 1.0, "c": 0.0}, k=60
    )
    assert [key for key, _ in fused] == ["y", "x"] and fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert damerau_levenshtein("skrit", "skirt") == 1 and damerau_levenshtein("blouze", "blouse") == 1
    assert damerau_levenshtein("little", "latte") == 2 and damerau_levenshtein("abcdef", "uvwxyz", 2) == 3
    assert (max_edits("tee"), max_edits("little"), max_edits("trousers")) == (1, 1, 2)
    assert "dark red" in expansions("maroon") and "sweater" in expansions("pullovers")  # plural looked up singular
    assert match_phrases(["polka", "dot", "dress"]) == [("polka dot", 0, 2), ("dress", 2, 3)]
    assert normalize_query("  Black\x00 DRESS\t ") == "black dress" and len(normalize_query("x " * 9000, 200)) <= 200
