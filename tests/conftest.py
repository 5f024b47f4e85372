"""Test-suite wiring: the embedded Postgres is stopped when the session ends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("DATABASE_URL"):
        return
    from recommender.embedded import stop_embedded

    stop_embedded(ROOT / "var" / "pgdata-test")


@pytest.fixture
def hm_data() -> Path:
    """The shared H&M data set, or a skip that says where it was looked for."""
    path = SHARED_DATA / "hm_fashion"
    if not (path / "articles.csv").exists():
        pytest.skip(f"H&M data not found at {path} (see shared/README.md); skipping the real-data test.")
    return path
