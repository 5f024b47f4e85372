"""Issue 20: the translation catalogs are complete, compiled, current and shipped.

Checked with the real gettext tools that ``makemessages`` and ``compilemessages`` run: every
entry of every ``.po`` is translated (no empty or fuzzy ``msgstr``); each ``.mo`` holds exactly
what its ``.po`` compiles to; ``makemessages`` over a copy of the sources finds no new or gone
string; and the wheel declares the catalogs.
"""

from __future__ import annotations

import gettext
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The packages with catalogs: the app (shipped) and the demo shop (this repository only).
PACKAGES = ["recommender", "shopdemo"]
LANGUAGES = ["zh_Hans", "de"]
# The options the catalogs are made with (README, "Languages"): no source lines, so that edits
# elsewhere in a file do not churn the catalogs.
MAKEMESSAGES = ["makemessages", "--no-obsolete", "--no-location", *(f"--locale={lang}" for lang in LANGUAGES)]

pytestmark = pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs gettext (apt-get install gettext)")


def catalogs() -> list[Path]:
    return [ROOT / pkg / "locale" / lang / "LC_MESSAGES" / "django.po" for pkg in PACKAGES for lang in LANGUAGES]


def statistics(po: Path) -> str:
    """msgfmt's verdict on a catalog ("365 translated messages."); fails on format errors."""
    done = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", os.devnull, str(po)], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.strip()


def compiled(po: Path, out: Path) -> dict:
    """The messages ``po`` compiles to, as Django reads them."""
    subprocess.run(["msgfmt", "--check", "-o", str(out), str(po)], check=True)
    return read_mo(out)


def read_mo(path: Path) -> dict:
    with path.open("rb") as fp:
        return dict(gettext.GNUTranslations(fp)._catalog)


@pytest.mark.parametrize("po", catalogs(), ids=lambda p: "/".join(p.parts[-5:-2]))
def test_every_entry_is_translated(po):
    verdict = statistics(po)
    assert "untranslated" not in verdict and "fuzzy" not in verdict, f"{po.relative_to(ROOT)}: {verdict}"
    assert verdict.endswith(("translated messages.", "translated message."))


@pytest.mark.parametrize("po", catalogs(), ids=lambda p: "/".join(p.parts[-5:-2]))
def test_each_mo_is_its_po_compiled(po, tmp_path):
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"run compilemessages: {mo.relative_to(ROOT)} is missing"
    assert read_mo(mo) == compiled(po, tmp_path / "django.mo"), f"run compilemessages: {mo.relative_to(ROOT)} is stale"


@pytest.mark.parametrize("package", PACKAGES)
def test_makemessages_finds_nothing_new(package, tmp_path):
    """makemessages over a copy of the sources leaves every catalog's messages as they are."""
    copy = tmp_path / package
    shutil.copytree(ROOT / package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    # manage.py puts this checkout on sys.path; the copy is only read as files.
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *MAKEMESSAGES],
        check=False,
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for lang in LANGUAGES:
        fresh = copy / "locale" / lang / "LC_MESSAGES" / "django.po"
        verdict = statistics(fresh)
        assert "untranslated" not in verdict and "fuzzy" not in verdict, f"{package} {lang}: new strings: {verdict}"
        kept = ROOT / package / "locale" / lang / "LC_MESSAGES" / "django.mo"
        assert compiled(fresh, tmp_path / f"{lang}.mo") == read_mo(kept), f"{package} {lang}: strings changed"


def test_the_wheel_declares_the_catalogs():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["recommender"]
    assert {"locale/**/*.mo", "locale/**/*.po"} <= set(data)
    shipped = {p.relative_to(ROOT / "recommender").as_posix() for p in (ROOT / "recommender" / "locale").rglob("*")}
    for lang in LANGUAGES:
        assert {f"locale/{lang}/LC_MESSAGES/django.po", f"locale/{lang}/LC_MESSAGES/django.mo"} <= shipped
