"""A new user's path: pip install the wheel into a fresh Django project, migrate, store, query.

The project is built in a temporary folder with ``django-admin startproject``; the app comes
from the built wheel (not this checkout), and the shop's own product model has a UUID key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.venvs import child_venv

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

SHOP_MODELS = """
import uuid
from django.db import models

class Item(models.Model):
    uid = models.UUIDField(primary_key=True, default=uuid.uuid4)
    headline = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    section = models.CharField(max_length=50)
    available = models.BooleanField(default=True)
"""

SETTINGS_TAIL = """
from recommender.embedded import database_settings
INSTALLED_APPS += ["django.contrib.postgres", "recommender", "shop"]
DATABASES = {"default": database_settings(BASE_DIR / "pgdata")}
CELERY_TASK_ALWAYS_EAGER = True
RECOMMENDER = {
    "PRODUCT_MODEL": "shop.Item",
    "FIELDS": {"title": "headline", "text": ["body"], "image": None, "category": "section",
               "price": None, "in_stock": "available"},
}
"""

STORE_AND_QUERY = """
import numpy as np
from recommender.catalog import get_adapter
from recommender.models import ModelVersion
from recommender.storage import VectorFilter, VectorRow, ensure_indexes, nearest, store_vectors
from shop.models import Item

# Deterministic stand-in vectors: one axis per section, so neighbours are known in advance.
axes = {"shoes": 0, "bags": 1, "hats": 2}
for i, section in enumerate(["shoes", "bags", "hats"] * 4):
    Item.objects.create(headline=f"{section} {i}", section=section, available=i != 0)
version = ModelVersion.objects.create(kind="encoder", name="fresh", dimensions=3, state="active")
adapter = get_adapter()
rows = []
for item in Item.objects.all():
    vec = np.full(3, 0.05, dtype=np.float32)
    vec[axes[adapter.category(item)]] = 1.0
    rows.append(VectorRow(key=adapter.key(item), embedding=vec, category=adapter.category(item),
                          in_stock=adapter.in_stock(item)))
store_vectors(version, rows)
ensure_indexes(version)
hits = nearest([1, 0, 0], k=3)
found = [Item.objects.get(pk=adapter.to_pk(k)) for k, _ in hits]
print("RESULT", sorted(i.section for i in found), all(i.available for i in found))
import recommender
print("FROM", recommender.__file__)
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_pip_install_into_a_fresh_project(tmp_path, fresh_database_url):
    wheel_dir = tmp_path / "wheels"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(ROOT),
        ],
        tmp_path,
        env,
    )
    wheel = next(wheel_dir.glob("django_recommender-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"recommender"}
    assert "recommender/migrations/0001_initial.py" in names and "recommender/py.typed" in names
    assert {
        f"recommender/locale/{lang}/LC_MESSAGES/django.{ext}" for lang in ("zh_Hans", "de") for ext in ("po", "mo")
    } <= set(names)

    venv = tmp_path / "venv"
    py = str(child_venv(venv))
    _run(
        [sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "-q", str(wheel)],
        tmp_path,
        env,
    )

    project = tmp_path / "project"
    project.mkdir()
    _run([py, "-m", "django", "startproject", "mysite", "."], project, env)
    _run([py, "manage.py", "startapp", "shop"], project, env)
    (project / "shop" / "models.py").write_text(SHOP_MODELS)
    with open(project / "mysite" / "settings.py", "a") as f:
        f.write(SETTINGS_TAIL)

    env["DATABASE_URL"] = fresh_database_url
    _run([py, "manage.py", "makemigrations", "shop"], project, env)
    _run([py, "manage.py", "migrate", "-v", "0"], project, env)
    checks = _run([py, "manage.py", "check", "--database", "default"], project, env)
    assert "no issues" in checks
    out = _run([py, "manage.py", "shell", "-c", textwrap.dedent(STORE_AND_QUERY)], project, env)
    assert "RESULT ['shoes', 'shoes', 'shoes'] True" in out
    assert str(venv) in out.split("FROM", 1)[1]  # the installed wheel, not this checkout
