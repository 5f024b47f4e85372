"""Keep vectors inline in the heap row instead of in TOAST.

A 512-d float vector is 2,056 bytes, just over Postgres' 2 kB TOAST threshold, and a row
holds three of them: by default Postgres moves them out of line, so an exact scan, an HNSW
build and the re-ranking of candidates read every vector through the TOAST index (measured
on 100k 512-d vectors: 260 MB of TOAST beside a 7 MB heap). ``STORAGE MAIN`` keeps them in the
row while the row fits a page and moves them out only as a last resort (very wide models).
"""

from django.db import migrations

COLUMNS = {
    "recommender_productvector": ("embedding", "image_embedding", "text_embedding"),
    "recommender_profile": ("vector",),
}


def _alter(storage: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE {storage}"
        for table, columns in COLUMNS.items()
        for column in columns
    ]


class Migration(migrations.Migration):
    dependencies = [("recommender", "0005_personalisation_opt_out")]

    operations = [migrations.RunSQL(_alter("MAIN"), reverse_sql=_alter("EXTENDED"))]
