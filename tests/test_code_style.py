"""The formatter owns the layout and the linter is clean: no skip markers, no drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ["recommender", "tests", "bench", "shopdemo", "tasks"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *CODE], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_check_is_clean():
    result = _ruff("check", "--output-format", "concise")
    assert result.returncode == 0, result.stdout[-3000:]


def test_ruff_format_owns_the_layout():
    result = _ruff("format", "--check", "--exclude", "**/migrations/*")
    assert result.returncode == 0, result.stdout[-3000:]
    marker = "fmt" + ": skip"  # spelled apart so this file does not match itself
    files = [p for d in CODE for p in (ROOT / d).rglob("*.py") if "migrations" not in p.parts]
    assert [str(p.relative_to(ROOT)) for p in files if marker in p.read_text()] == []
