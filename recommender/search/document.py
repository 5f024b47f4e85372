"""The stored full-text document of a product row: a generated tsvector column (migration 0012).

Full-text search matches and ranks on it instead of recomputing the weighted tsvector of title
(A), category (B) and document (C) per matching row, which re-parsed every matching description
on each search. Only the ``english`` configuration is stored (the one shops use and the index was
always built for); another ``SEARCH_TEXT_CONFIG`` falls back to the expression, unindexed.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchVectorField
from django.db.models.expressions import RawSQL

__all__ = ["DOCUMENT_COLUMN", "DOCUMENT_CONFIG", "DOCUMENT_INDEX", "DOCUMENT_SQL", "stored_document"]

DOCUMENT_COLUMN = "search_document"
DOCUMENT_INDEX = "recommender_pv_search_document_idx"
DOCUMENT_CONFIG = "english"
# Keep identical to fulltext.search_vector("english") (tests/test_search_indexes.py compares them).
DOCUMENT_SQL = (
    "setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A') "
    "|| setweight(to_tsvector('english'::regconfig, COALESCE(category, '')), 'B') "
    "|| setweight(to_tsvector('english'::regconfig, COALESCE(document, '')), 'C')"
)


def stored_document() -> RawSQL:
    """The column as an ORM expression (a tsvector), for ``annotate`` / ``SearchRank``."""
    return RawSQL(f'"recommender_productvector"."{DOCUMENT_COLUMN}"', [], output_field=SearchVectorField())
