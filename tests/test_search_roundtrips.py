"""Issue 18, search on a shop's hot path: few round trips to Postgres per search, and a query-vector
cache shared by every process (keyed by encoder version and normalised text), on the real stack
(MiniLM text tower, pgvector, full text, pg_trgm) with the fixture catalog of test_search_ranking."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recommender.search import SearchFilters, dense, parse_query, ranked_lists, search
from recommender.search import statements as statements_cache
from recommender.search.fulltext import fill_template, fulltext_shape, fulltext_statement, fulltext_template
from recommender.versions import serving_version
from tests.test_search_ranking import shared_catalog

pytestmark = pytest.mark.django_db

# Statements a search with known words may send: the serving version (once: one_serving_version
# pins it for the whole search), the spelling check's catalog words, the ranked lists with their
# facts and recent popularity; the merchandising rules come from the cache (rules_in_window). It
# was 16 before issue 18 (three transactions with their savepoints and settings, one query per
# list, another for the facts).
MAX_STATEMENTS = 4


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker, tiny_model_dir) -> Iterator[dict[str, str]]:
    with shared_catalog(django_db_blocker, tiny_model_dir) as keys:
        yield keys


def statements(query: str, **kwargs) -> tuple[int, list[str]]:
    search(query, record=False, **kwargs)  # warm: vector, corrections, category words
    with CaptureQueriesContext(connection) as captured:
        results = search(query, record=False, **kwargs)
    return len(captured.captured_queries), results.keys


def test_a_search_costs_a_few_statements(catalog):
    count, keys = statements("black dress")
    assert keys and count <= MAX_STATEMENTS, count


def test_a_search_reads_the_serving_version_once(catalog):
    search("black dress", record=False)
    with CaptureQueriesContext(connection) as captured:
        search("black dress", record=False)
    reads = [q["sql"] for q in captured.captured_queries if '"recommender_modelversion"' in q["sql"]]
    assert len(reads) == 1, reads


def test_a_misspelt_search_with_every_list_stays_bounded(catalog):
    # The trigram list joins the one statement; "did you mean" adds its own look-ups.
    count, keys = statements("skrit")
    assert {catalog["Denim skirt"], catalog["Pleated skirt"]} <= set(keys)
    assert count <= MAX_STATEMENTS + 3, count


def test_lists_and_facts_come_in_one_statement(catalog):
    version = serving_version()
    parse_query("skrit")
    with CaptureQueriesContext(connection) as captured:
        lists = ranked_lists(parse_query("skrit"), SearchFilters(), version, k=20, always_trigram=True)
    assert set(lists) == {"text_vector", "fused_vector", "fulltext", "trigram"}
    assert all(lists.values())
    sent = [q["sql"] for q in captured.captured_queries if "recommender_productvector" in q["sql"]]
    assert len(sent) == 1, sent


def test_filters_hold_inside_the_one_statement(catalog):
    cheap = search("dress", record=False, filters=SearchFilters(max_price=Decimal(30)))
    assert catalog["Strap dress"] in cheap.keys
    assert catalog["Midi dress"] not in cheap.keys and catalog["Sold-out dress"] not in cheap.keys
    assert all(hit.price <= 30 for hit in cheap.hits)


def test_query_vectors_are_shared_through_the_cache(catalog):
    version = serving_version()
    text = parse_query("black dress").dense_text
    dense._cache.clear()  # earlier tests left it in this process: this search encodes it again
    search("black dress", record=False)
    stored = cache.get(dense.query_vector_key(version, text))
    assert isinstance(stored, bytes) and len(stored) == 4 * version.dimensions
    # Another web process (empty process cache) reads the shared entry instead of encoding: a
    # planted vector comes back as it was stored.
    planted = np.zeros(version.dimensions, dtype=np.float32)
    planted[0] = 1.0
    cache.set(dense.query_vector_key(version, text), planted.tobytes())
    dense._cache.clear()
    assert np.array_equal(dense.query_vector(version, text), planted)


def _forget_query_vectors() -> None:
    """As in a web process that never saw the query: no vector in this process nor the shared cache."""
    dense._cache.clear()
    cache.clear()


def test_a_new_query_is_encoded_while_the_lexical_lists_run(catalog, monkeypatch):
    """A query this process has not encoded: the encoder runs on a background thread while the
    full-text and trigram lists go to Postgres; the vector lists follow in a second statement.
    The lists, facts and popularity equal the one-statement answer of a remembered vector."""
    from recommender.query_encoders import query_encoder_for
    from recommender.search.engine import retrieve_lists

    version = serving_version()
    parsed = parse_query("skrit")
    encoder = query_encoder_for(version)
    threads = []
    real_encode = encoder.encode_texts

    def encode_and_note_the_thread(texts, *args, **kwargs):
        threads.append(threading.current_thread().name)
        return real_encode(texts, *args, **kwargs)

    monkeypatch.setattr(encoder, "encode_texts", encode_and_note_the_thread)
    _forget_query_vectors()
    with CaptureQueriesContext(connection) as captured:
        split = retrieve_lists(parsed, SearchFilters(), version, k=20, always_trigram=True)
    assert threads and threads[0] != threading.current_thread().name, threads
    sent = [q["sql"] for q in captured.captured_queries if "recommender_productvector" in q["sql"]]
    assert len(sent) == 2, sent
    assert "ts_rank" in sent[0] and "<=>" not in sent[0]  # the lexical lists, while encoding
    assert "<=>" in sent[1] and "ts_rank" not in sent[1]  # the vector lists and the boosts
    with CaptureQueriesContext(connection) as captured:
        together = retrieve_lists(parsed, SearchFilters(), version, k=20, always_trigram=True)
    assert len(threads) == 1  # remembered: not encoded again
    assert len([q for q in captured.captured_queries if "recommender_productvector" in q["sql"]]) == 1
    assert list(split.lists) == list(together.lists) == ["fulltext", "trigram", "text_vector", "fused_vector"]
    assert all(split.lists.values())
    assert split.lists == together.lists
    assert list(split.facts.items()) == list(together.facts.items())
    assert split.derived == together.derived


def test_popularity_after_a_split_covers_the_lexical_lists_products(catalog, settings):
    """The boosts ride with the vector lists but count every listed product, the first
    statement's too: a full-text match the vector list leaves out keeps its popularity."""
    from recommender.events import record_event
    from recommender.search.boosts import popularity_ranking
    from recommender.search.engine import retrieve_lists

    # A margin of 0 keeps only the best vector match: the other skirt is a full-text match alone.
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_SIMILARITY_MARGIN": 0.0}
    weights = {"fulltext": 1.0, "fused_vector": 1.0, "popularity": 1.0}  # no text_vector list
    version = serving_version()
    _forget_query_vectors()
    before = retrieve_lists(parse_query("skirt"), SearchFilters(), version, k=20, weights=weights)
    lexical_only = {key for key, _ in before.lists["fulltext"]} - {key for key, _ in before.lists["fused_vector"]}
    assert lexical_only, before.lists
    bought = min(lexical_only)
    record_event("purchase", session_key="skirt-shopper", product_key=bought, update_profile=False)
    _forget_query_vectors()
    got = retrieve_lists(parse_query("skirt"), SearchFilters(), version, k=20, weights=weights)
    listed = {key for ranking in got.lists.values() for key, _ in ranking}
    assert bought not in {key for key, _ in got.lists["fused_vector"]}
    assert got.derived["popularity"] == popularity_ranking(sorted(listed))
    assert dict(got.derived["popularity"])[bought] == 3.0


def test_an_encoder_that_cannot_load_on_the_background_thread_leaves_the_lexical_lists(catalog, caplog):
    """A web server without the model files: the background encoding fails, is logged, and the
    search answers from the full-text list with its popularity boost, as the one-statement path did."""
    from recommender.search.engine import retrieve_lists

    version = serving_version()
    version.config = {**version.config, "MODEL": "local-dir:/nonexistent/model", "encoder_version": "gone"}
    _forget_query_vectors()
    with caplog.at_level("WARNING", logger="recommender.search.dense"):
        got = retrieve_lists(parse_query("skirt"), SearchFilters(), version, k=20)
    assert "Search without vectors" in caplog.text
    assert got.lists["text_vector"] == [] and got.lists["fused_vector"] == []
    assert catalog["Denim skirt"] in {key for key, _ in got.lists["fulltext"]}
    assert "popularity" in got.derived and catalog["Denim skirt"] in got.facts


def test_without_concurrent_encoding_a_new_query_sends_one_list_statement(catalog, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_ENCODE_CONCURRENTLY": False}
    _forget_query_vectors()
    with CaptureQueriesContext(connection) as captured:
        assert search("black dress", record=False).keys
    lists = [q["sql"] for q in captured.captured_queries if "leg0 AS" in q["sql"]]
    assert len(lists) == 1 and "ts_rank" in lists[0] and "<=>" in lists[0], lists


def test_a_forked_worker_starts_without_its_parents_encoding_threads(catalog):
    """gunicorn --preload forks workers from a master that may have searched: the child must not
    inherit a pool whose threads did not survive the fork (its searches would wait forever)."""
    _forget_query_vectors()
    dense.query_vector_soon(serving_version(), "linen shirt").result()
    assert dense._pool is not None
    pid = os.fork()
    if pid == 0:  # the child: report, never run the rest of the test session
        os._exit(0 if dense._pool is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_query_vector_keys_follow_the_encoder_version(catalog):
    version = serving_version()
    key = dense.query_vector_key(version, "black dress")
    assert key != dense.query_vector_key(version, "black dresses")
    version.config = {**version.config, "encoder_version": "other-weights"}
    assert key != dense.query_vector_key(version, "black dress")


def test_compiled_statements_are_kept_per_query_and_filters(catalog):
    """Issue 18 round 2: the full-text SQL is compiled once per query shape; a cached statement
    never leaks one search's filters or words into another's."""
    statements_cache.clear()
    plain = search("dress", record=False)
    assert catalog["Midi dress"] in plain.keys
    cheap = search("dress", record=False, filters=SearchFilters(max_price=Decimal(30)))
    assert catalog["Midi dress"] not in cheap.keys and catalog["Strap dress"] in cheap.keys
    skirts = search("skirt", record=False)
    assert catalog["Denim skirt"] in skirts.keys and catalog["Midi dress"] not in skirts.keys
    # One full-text template per (query shape, filters): "dress" and "skirt" share a shape when
    # they have as many alternatives; the filtered search has its own.
    kept = [key for key in statements_cache._cache if key[0] == "fulltext"]
    shapes = {fulltext_shape(parse_query(q)) for q in ("dress", "skirt")}
    assert len(kept) == len(shapes) + 1, kept
    again = search("dress", record=False)
    assert again.keys == plain.keys
    assert len([key for key in statements_cache._cache if key[0] == "fulltext"]) == len(kept)


def test_a_shape_template_gives_exactly_the_compiled_statement(catalog):
    """An unseen query of a known shape is filled into its shape's SQL instead of compiled (4-7 ms
    with the ORM): the result must be the statement the ORM compiles, parameter for parameter."""
    version = serving_version()
    queries = ["black dress", "skrit", "tee-shirt", '"little black" dress -wool', "denim OR linen", "-red coat"]
    for filters in (SearchFilters(), SearchFilters(max_price=Decimal(30), categories=("Dresses",))):
        for text in queries:
            parsed = parse_query(text)
            direct = fulltext_statement(parsed, filters.rows(version), 50)
            assert fill_template(fulltext_template(parsed, filters.rows(version), 50), parsed) == direct, text
    # Two queries of one shape share a template and still get their own words.
    one, two = parse_query('"denim skirt"'), parse_query('"strap dress"')
    assert fulltext_shape(one) == fulltext_shape(two)
    template = fulltext_template(one, SearchFilters().rows(version), 50)
    filled = fill_template(template, two)
    assert filled == fulltext_statement(two, SearchFilters().rows(version), 50)
    assert "strap dress" in filled[1] and "denim skirt" not in filled[1]


def test_popularity_rides_in_the_list_statement_and_equals_its_own_query(catalog):
    """The popularity boost is a derived list of the one statement, over every listed product;
    restricted to the search's products it equals popularity_ranking's own query (ties by key)."""
    from recommender.events import record_event
    from recommender.search.boosts import popularity_ranking
    from recommender.search.engine import retrieve_lists

    dresses = [catalog["Midi dress"], catalog["Strap dress"], catalog["Sold-out dress"]]
    for key, kinds in zip(dresses, (["click"], ["purchase"], ["click", "add_to_cart"]), strict=True):
        for kind in kinds:
            record_event(kind, session_key="popular-shopper", product_key=key, update_profile=False)
    got = retrieve_lists(parse_query("dress"), SearchFilters(), serving_version(), k=20)
    listed = {key for ranking in got.lists.values() for key, _ in ranking}
    popular = got.derived["popularity"]
    assert {key for key, _ in popular} <= listed and {key for key, _ in popular} & set(dresses)
    assert "popularity" not in got.lists  # a boost, never fused as a retrieval list
    assert popular == popularity_ranking(sorted(listed))
    assert dict(popular)[catalog["Strap dress"]] == 3.0  # a purchase counts three times


def test_inside_the_hosts_transaction_the_lists_keep_the_shops_planner_settings(catalog):
    """In a host transaction (tests run in one, as ATOMIC_REQUESTS would) a transaction-local
    random_page_cost would outlive the search and re-plan the host's queries: none is sent."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        before = cursor.fetchone()[0]
    search("white dress", record=False)
    with CaptureQueriesContext(connection) as captured:
        assert search("white dress", record=False).keys
    assert not [q for q in captured.captured_queries if "random_page_cost" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == before


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_the_lists_plan_for_data_in_memory_for_their_statement_only(catalog):
    """Outside a host transaction search's list statement runs with random_page_cost 1.1 (a
    partial match with a common word read through the GIN index), and the connection's own value
    is back for the next statement: set_config(..., true) in the statement's own implicit
    transaction. (Last in this module: a transactional test empties the tables when it ends.)"""
    from recommender.search.fulltext import RANDOM_PAGE_COST
    from recommender.storage import fetch_with_settings

    assert not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        before = cursor.fetchone()[0]
    assert before != RANDOM_PAGE_COST
    search("white dress", record=False)
    with CaptureQueriesContext(connection) as captured:
        assert search("white dress", record=False).keys
    lists = [q["sql"] for q in captured.captured_queries if "ts_rank" in q["sql"]]
    assert len(lists) == 1 and f"'random_page_cost', '{RANDOM_PAGE_COST}', true" in lists[0], lists
    setting = {"random_page_cost": RANDOM_PAGE_COST}
    assert fetch_with_settings("SELECT current_setting('random_page_cost')", [], setting) == [(RANDOM_PAGE_COST,)]
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == before
