# Search: the suggestion phrase table, and the indexes behind full-text and trigram search.
#
# The product-vector and search-log indexes are created with RunSQL: they index expressions
# and columns of models whose Meta this app keeps unchanged, so the migration state stays equal
# to the models (makemigrations --check is clean). The tsvector expression must stay identical
# to recommender.search.fulltext.search_vector("english"), or queries stop using the index
# (tests/test_search_indexes.py checks the plans).

import django.contrib.postgres.indexes
import django.utils.timezone
from django.db import migrations, models

FULLTEXT_INDEX = """
CREATE INDEX IF NOT EXISTS recommender_pv_fts_idx ON recommender_productvector USING gin ((
    setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A')
    || setweight(to_tsvector('english'::regconfig, COALESCE(category, '')), 'B')
    || setweight(to_tsvector('english'::regconfig, COALESCE(document, '')), 'C')
))
"""


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0003_product_document"),
    ]

    operations = [
        migrations.CreateModel(
            name="SuggestionPhrase",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.CharField(max_length=200, verbose_name="text")),
                ("normalized", models.CharField(max_length=200, verbose_name="normalised text")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("query", "popular search"),
                            ("product", "product name"),
                            ("category", "category"),
                            ("term", "vocabulary word"),
                        ],
                        max_length=16,
                        verbose_name="kind",
                    ),
                ),
                (
                    "popularity",
                    models.FloatField(
                        default=0.0,
                        help_text="Recency-weighted searches, or products carrying the phrase.",
                        verbose_name="popularity",
                    ),
                ),
                (
                    "sessions",
                    models.PositiveIntegerField(
                        default=0,
                        help_text="Logged queries: how many sessions searched it.",
                        verbose_name="distinct sessions",
                    ),
                ),
                ("related", models.JSONField(blank=True, default=list, verbose_name="related searches")),
                ("last_seen", models.DateTimeField(blank=True, null=True, verbose_name="last seen")),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="updated")),
            ],
            options={
                "verbose_name": "suggestion phrase",
                "verbose_name_plural": "suggestion phrases",
                "ordering": ["-popularity"],
                "indexes": [
                    models.Index(
                        fields=["normalized"], name="recommender_sp_prefix_idx", opclasses=["varchar_pattern_ops"]
                    ),
                    django.contrib.postgres.indexes.GinIndex(
                        fields=["normalized"], name="recommender_sp_trgm_idx", opclasses=["gin_trgm_ops"]
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("kind", "normalized"), name="recommender_one_phrase_per_kind")
                ],
            },
        ),
        # Full text: the weighted tsvector of title (A), category (B) and document (C).
        migrations.RunSQL(FULLTEXT_INDEX, "DROP INDEX IF EXISTS recommender_pv_fts_idx"),
        # Trigram word similarity (typos) on what the trigram list matches: title and category.
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS recommender_pv_title_trgm_idx ON recommender_productvector "
            "USING gin (title gin_trgm_ops)",
            "DROP INDEX IF EXISTS recommender_pv_title_trgm_idx",
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS recommender_pv_category_trgm_idx ON recommender_productvector "
            "USING gin (category gin_trgm_ops)",
            "DROP INDEX IF EXISTS recommender_pv_category_trgm_idx",
        ),
        # A click or purchase looks up the shopper's latest search (recommender.search.querylog).
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS recommender_sq_session_idx ON recommender_searchquery "
            "(session_hash, created_at)",
            "DROP INDEX IF EXISTS recommender_sq_session_idx",
        ),
    ]
