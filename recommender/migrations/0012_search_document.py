"""The weighted tsvector of a product row becomes a stored generated column (``search_document``).

Ranking full-text matches with ``ts_rank`` over the indexed *expression* re-parsed every matching
product's document (title, category, description) on each search: 17 of the 22 ms of the H&M
search statement. Stored, the rank reads the column (1.5 ms). The GIN index moves from the
expression (migration 0004) to the column; Postgres keeps the column in step on every write.
The expression must stay identical to ``recommender.search.fulltext.search_vector("english")``.
The column is kept in the row (``STORAGE MAIN``, compressed inline), set in the same ALTER
TABLE so the one rewrite already stores it so: with two 384-float vectors per row, Postgres
otherwise moves the tsvector out to TOAST, and a search that ranks 3,000 partial matches paid a
TOAST lookup per row twice (match, then rank): 73 ms of the statement, 20 ms inline on H&M.
The table is analysed at the end: the planner needs the new column's statistics to pick its
index (without them it guesses one match per query). The column is not a model field: the ORM never writes it, and ``fulltext.py`` reads it by name.
"""

from django.db import migrations

# Frozen copies of recommender.search.document's constants (a migration must not follow later code).
DOCUMENT_COLUMN = "search_document"
DOCUMENT_INDEX = "recommender_pv_search_document_idx"
DOCUMENT_SQL = (
    "setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A') "
    "|| setweight(to_tsvector('english'::regconfig, COALESCE(category, '')), 'B') "
    "|| setweight(to_tsvector('english'::regconfig, COALESCE(document, '')), 'C')"
)

ADD = f"""
ALTER TABLE recommender_productvector ADD COLUMN IF NOT EXISTS {DOCUMENT_COLUMN} tsvector
    GENERATED ALWAYS AS ({DOCUMENT_SQL}) STORED,
    ALTER COLUMN {DOCUMENT_COLUMN} SET STORAGE MAIN;
CREATE INDEX IF NOT EXISTS {DOCUMENT_INDEX} ON recommender_productvector USING gin ({DOCUMENT_COLUMN});
DROP INDEX IF EXISTS recommender_pv_fts_idx;
ANALYZE recommender_productvector;
"""

REMOVE = f"""
CREATE INDEX IF NOT EXISTS recommender_pv_fts_idx ON recommender_productvector USING gin (({DOCUMENT_SQL}));
DROP INDEX IF EXISTS {DOCUMENT_INDEX};
ALTER TABLE recommender_productvector DROP COLUMN IF EXISTS {DOCUMENT_COLUMN};
"""


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0011_exclude_purchased_auto"),
    ]

    operations = [migrations.RunSQL(ADD, REMOVE)]
