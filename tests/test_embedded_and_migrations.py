"""Database URL parsing, the embedded server, and migrations that never name the host model."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from recommender.embedded import parse_database_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "recommender" / "migrations"


def test_parse_database_url_tcp_and_socket():
    cfg = parse_database_url("postgres://shop:s%40cret@db.internal:5433/shopdb?sslmode=require")
    assert (cfg["NAME"], cfg["USER"], cfg["PASSWORD"], cfg["HOST"], cfg["PORT"]) == (
        "shopdb",
        "shop",
        "s@cret",
        "db.internal",
        "5433",
    )
    assert cfg["OPTIONS"] == {"sslmode": "require"}
    sock = parse_database_url("postgresql://postgres:@/recommender?host=/tmp/pg")
    assert sock["HOST"] == "/tmp/pg" and sock["NAME"] == "recommender" and sock["OPTIONS"] == {}


def test_non_postgres_url_is_refused():
    with pytest.raises(ImproperlyConfigured, match="postgres:// URL"):
        parse_database_url("mysql://u:p@h/db")


@pytest.mark.django_db
def test_embedded_server_has_pgvector_and_trigram(django_db_blocker):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname IN ('vector', 'pg_trgm') ORDER BY 1")
        assert [r[0] for r in cursor.fetchall()] == ["pg_trgm", "vector"]


@pytest.mark.django_db
def test_no_missing_migrations():
    out = io.StringIO()
    call_command("makemigrations", "recommender", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_shipped_migrations_do_not_reference_host_models():
    text = "\n".join(p.read_text() for p in MIGRATIONS.glob("0*.py"))
    assert "testapp" not in text and "catalog." not in text and "PRODUCT_MODEL" not in text
    first = (MIGRATIONS / "0001_initial.py").read_text()
    assert first.index("VectorExtension()") < first.index("VectorField")
