"""The search indexes of migration 0004 exist and the queries use them: full text on a 4,000-row
catalog with fresh statistics (the plan a shop gets); trigram, the suggestion table and the log
lookup with sequential scans disabled (on small tables a scan is as cheap: is there an index path)."""

from __future__ import annotations

import pytest
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection, transaction

from recommender.models import ModelVersion, ProductVector
from recommender.search import SearchFilters, parse_query
from recommender.search.document import stored_document
from recommender.search.fulltext import (
    HEAD_RANK_WEIGHTS,
    RANK_WEIGHTS,
    fulltext_queryset,
    fulltext_ranking,
    partial_queryset,
    search_vector,
)
from recommender.search.suggestions import suggest_sql
from recommender.search.trigram import similarity_threshold, trigram_queryset
from tests.factories import encoder_version

pytestmark = pytest.mark.django_db

INDEXES = {
    "recommender_pv_search_document_idx",
    "recommender_pv_title_trgm_idx",
    "recommender_pv_category_trgm_idx",
    "recommender_sq_session_idx",
    "recommender_sp_prefix_idx",
    "recommender_sp_trgm_idx",
}


def plan(sql: str, params=()) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_indexes_exist():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'recommender_%%'")
        assert INDEXES <= {row[0] for row in cursor.fetchall()}


WORDS = ["cotton", "jersey", "wool", "denim", "linen", "satin", "viscose", "knit", "lace", "fleece"]
TYPES = ["Top", "Trousers", "Dress", "Skirt", "Sweater", "Shirt", "Blouse", "Shorts", "Socks", "Bra"]


@pytest.fixture(scope="module")
def big_catalog(django_db_setup, django_db_blocker):
    """4,000 rows of one version, built once for the module: the query words below match a handful."""
    with django_db_blocker.unblock():
        version = encoder_version()
        rows = [
            ProductVector(
                version=version,
                product_key=str(i),
                title=f"{WORDS[i % 10]} {TYPES[i // 10 % 10]} {i}",
                category=TYPES[i // 10 % 10],
                document=f"{WORDS[i % 10]} {TYPES[i // 10 % 10]} with pockets, style {i}",
            )
            for i in range(4000)
        ]
        rows[7].title, rows[7].document = "Padded jacket", "Padded jacket in windproof fabric"
        ProductVector.objects.bulk_create(rows)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE recommender_productvector")
        try:
            yield version
        finally:
            version.delete()


def test_fulltext_queries_use_the_weighted_tsvector_index(big_catalog):
    """With the tsvector stored (migration 0012) matching parses nothing, and on 4,000 rows the
    planner may prefer the version's b-tree; what must hold is that the column's GIN index serves
    a match (on H&M's 6,000 rows the search statement's plan uses it)."""
    parsed = parse_query("padded jacket -leather", correct=False)
    rows = SearchFilters().rows(big_catalog)
    for qs in (fulltext_queryset(parsed, rows), partial_queryset(parsed, rows, ["1"])):
        assert '"search_document") @@' in str(qs.query)  # the stored column, not the expression
    match = ProductVector.objects.annotate(search=stored_document()).filter(search=SearchQuery("padded jacket"))
    explained = plan(*match.values_list("pk").query.sql_with_params())
    assert "recommender_pv_search_document_idx" in explained, explained
    assert [k for k, _ in fulltext_ranking(parsed, rows, 10)] == ["7"]


def test_stored_document_equals_the_weighted_tsvector(big_catalog):
    """The generated column (migration 0012) holds exactly search_vector("english"), and follows updates."""
    row = ProductVector.objects.filter(version=big_catalog).order_by("pk").first()
    ProductVector.objects.filter(pk=row.pk).update(title="Quilted gilet", document="A quilted gilet, lightweight")
    computed = (
        ProductVector.objects.filter(version=big_catalog)
        .annotate(computed=search_vector("english"), stored=stored_document())
        .values_list("computed", "stored")
    )
    pairs = list(computed)
    assert len(pairs) == 4000
    assert all(c == s for c, s in pairs)
    assert any("quilt" in s for _, s in pairs)


def test_partial_rank_on_the_stored_document_equals_the_title_and_category_rank(big_catalog):
    """Partial matches rank on title and category: ts_rank of the stored document with the
    document's weight at zero must equal ts_rank of the two fields parsed per row, including rows
    whose long description repeats the query words (the zero-weight positions follow the others)."""
    row = ProductVector.objects.filter(version=big_catalog).order_by("pk")[5]
    long_text = " ".join(["cotton pockets"] * 400 + [f"w{i}" for i in range(600)])
    ProductVector.objects.filter(pk=row.pk).update(document=long_text)
    head = SearchVector("title", weight="A", config="english") + SearchVector("category", weight="B", config="english")
    query = SearchQuery("cotton", config="english") | SearchQuery("pockets top", config="english", search_type="phrase")
    ranked = (
        ProductVector.objects.filter(version=big_catalog)
        .annotate(
            head=SearchRank(head, query, weights=RANK_WEIGHTS),
            stored=SearchRank(stored_document(), query, weights=HEAD_RANK_WEIGHTS),
        )
        .values_list("product_key", "head", "stored")
    )
    pairs = list(ranked)
    assert sum(h > 0 for _, h, _ in pairs) >= 400  # the cotton rows rank on their titles
    assert all(h == s for _, h, s in pairs), [p for p in pairs if p[1] != p[2]][:5]


def test_the_stored_document_is_kept_in_the_row(big_catalog):
    """STORAGE MAIN (migration 0012): a search reads each matching row's document; out of line in
    TOAST that cost a TOAST index lookup per row, twice (match, then rank): 73 -> 20 ms on H&M."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = 'recommender_productvector'::regclass "
            "AND attname = 'search_document'"
        )
        assert cursor.fetchone()[0] == "m"


def test_trigram_query_uses_the_trigram_indexes(big_catalog):
    # Without the version condition, whose b-tree competes on a one-version test table: on the
    # H&M catalog (6,000 rows) the planner picks this BitmapOr of both indexes by itself.
    qs = trigram_queryset(parse_query("jaket", correct=False), ProductVector.objects.all())
    with similarity_threshold(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        explained = qs.explain()
        assert "recommender_pv_title_trgm_idx" in explained and "recommender_pv_category_trgm_idx" in explained, (
            explained
        )
        assert qs.values_list("product_key", flat=True)[0] == "7"


def test_the_trigram_statement_returns_exactly_the_trigram_querysets_rows(big_catalog):
    """trigram_statement scores category matches once per category name; it must give the rows and
    similarities of the plain queryset, with its filters, ties in the same order. The extra rows
    have titles that share nothing with their category, so their scores come from the category
    alone (the rows the statement no longer compares one by one)."""
    from recommender.search.trigram import threshold_settings, trigram_statement
    from recommender.storage import fetch_with_settings

    other = encoder_version(name="other", state=ModelVersion.State.READY)
    extra = [
        ProductVector(version=big_catalog, product_key="s1", title="Lazer Razer Brief", category="Swimwear bottom"),
        ProductVector(version=big_catalog, product_key="s2", title="Epic Padded Swimsuit", category="Swimwear set"),
        ProductVector(version=big_catalog, product_key="s3", title="Swimwear top", category="Swimwear set"),
        ProductVector(version=big_catalog, product_key="s4", title="Tide", category="Swimwear set", in_stock=False),
        ProductVector(version=other, product_key="s5", title="Wave", category="Swimwear bottom"),
    ]
    ProductVector.objects.bulk_create(extra)
    category_only = 0
    for filters in (SearchFilters(), SearchFilters(categories=("Swimwear set", "Top"))):
        rows = filters.rows(big_catalog)
        for typed in ("swimwaer", "swimwear bottm", "cottn top", "jaket", "padded", "sweter"):
            parsed = parse_query(typed, correct=False)
            sql, params = (
                trigram_queryset(parsed, rows).values_list("product_key", "similarity")[:200].query.sql_with_params()
            )
            expected = fetch_with_settings(sql, list(params), threshold_settings())
            got = fetch_with_settings(*trigram_statement(parsed, rows, 200), threshold_settings())
            assert got == expected, (typed, filters)
            category_only += sum(key in ("s1", "s2") for key, _ in got)
            assert not {"s4", "s5"} & {key for key, _ in got}  # out of stock, another version
    assert category_only >= 3


@pytest.mark.parametrize(
    ("typed", "indexes"),
    [("bla", {"recommender_sp_prefix_idx", "recommender_sp_trgm_idx"}), ("black dre", {"recommender_sp_trgm_idx"})],
)
def test_suggestion_query_uses_the_phrase_indexes(typed, indexes):
    from recommender.models.suggestions import SuggestionPhrase

    phrases = [f"{w} {t} {i}".lower() for i in range(300) for w in [*WORDS, "black"] for t in TYPES[:2]]
    SuggestionPhrase.objects.bulk_create(
        [SuggestionPhrase(kind="product", text=p, normalized=p, popularity=1) for p in phrases]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE recommender_suggestionphrase")
    sql, params = suggest_sql(typed, 8, 3)
    explained = plan(sql, params)
    assert all(index in explained for index in indexes), explained


def test_search_log_lookup_uses_the_session_index():
    explained = plan(
        "SELECT id FROM recommender_searchquery WHERE session_hash = %s AND created_at <= now() "
        "ORDER BY created_at DESC LIMIT 1",
        ["abc"],
    )
    assert "recommender_sq_session_idx" in explained, explained
