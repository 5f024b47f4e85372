"""Issue 14's proof: a shop the app was never built around follows README's install section literally.

The wheel is built and installed into a fresh virtual environment; ``django-admin startproject
mysite`` gets every code block of README's "Install into an existing shop" section written into
the file the block's first line names, and the section's shell commands run as written (the
worker with the plain documented command, over a real broker). The shop's model is the one the
README shows (UUID ``sku``, cents, a stock count, the category behind a foreign key, no
``get_absolute_url``), loaded with 150 real H&M products. Then: a product saved is re-embedded
by that worker; the tags render on a page with no form and a logged-in shopper's beacon click is
accepted; "black dress" finds black dresses and is never "corrected" to "block"; a product taken
out of stock disappears from cached results as soon as the worker has synced it.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shlex
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from tests.venvs import child_venv
from tests.worker import filesystem_broker, redis_broker

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.hm]

SECTION_START = "## Install into an existing shop"
BLOCK = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>\w+)\n(?P<body>.*?)^(?P=indent)```", re.DOTALL | re.MULTILINE)
TARGET = re.compile(r"^(?:#|\{#)\s*(?P<path>[\w./]+)(?P<add>,\s*add:)?\s*(?:#\})?\s*$")
PRODUCT_TYPES = ("Dress", "Trousers", "Sweater", "T-shirt", "Jacket", "Skirt", "Blouse", "Shorts")


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION_START)
    end = text.index("\n## ", start + len(SECTION_START))
    return text[start:end]


def readme_blocks() -> tuple[list[tuple[str, bool, str]], list[str]]:
    """(files: [(path, append, code)], shell commands) of the install section, in order."""
    files, commands = [], []
    for match in BLOCK.finditer(readme_section()):
        body = textwrap.dedent(match["body"])
        if match["lang"] == "bash":
            commands += [line.strip() for line in body.splitlines() if line.strip()]
            continue
        first, _, code = body.partition("\n")
        target = TARGET.match(first)
        assert target, f"a README install block does not name its file on its first line: {first!r}"
        files.append((target["path"], bool(target["add"]), code))
    return files, commands


def test_readme_names_a_file_for_every_block_and_the_plain_worker_command():
    files, commands = readme_blocks()
    assert {"mysite/settings.py", "mysite/celery.py", "store/models.py", "mysite/urls.py"} <= {p for p, _, _ in files}
    assert "celery -A mysite worker -l info &" in commands  # no -Q: the documented default must work


# -- the shop's own code (not the README's): its product page, its URLs, its data --------------------

SHOP_VIEWS = """
from django.shortcuts import get_object_or_404, render
from .models import Item

def item(request, sku):
    return render(request, "store/item.html", {"item": get_object_or_404(Item, pk=sku)})
"""
SHOP_URLS = """
from django.urls import path
from . import views

app_name = "store"
urlpatterns = [path("items/<uuid:sku>/", views.item, name="item")]
"""
SHOP_SETTINGS = """
MEDIA_ROOT = {media!r}
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
"""
SHOP_URLCONF = """
urlpatterns += [path("store/", include("store.urls"))]
"""
LOAD_PRODUCTS = """
import json
from store.models import Item, Section
rows = json.loads(open({rows_file!r}).read())
sections = {{}}
for r in rows:
    section = sections.get(r["type"]) or sections.setdefault(r["type"], Section.objects.create(title=r["type"]))
    item = Item(headline=r["name"], blurb=r["blurb"], cost_cents=r["cents"], stock_count=5, section=section)
    item.picture.name = r["image"]
    item.save()
    print("KEY", r["article_id"], item.pk)
"""
# Everything a shopper and the shop owner do next, in one process so its result cache is the
# web process's own: the worker can only reach it through the database.
SHOP_SESSION = """
import json, re, time
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment
from recommender.models import ProductVector
from store.models import Item

setup_test_environment()
out = {{}}
skus = json.loads({skus!r})

def wait(cond, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.5)
    return False

# 1. A product saved is re-embedded by the plain worker.
dress = Item.objects.get(pk=skus["dress"])
old = ProductVector.objects.get(product_key=str(dress.pk)).content_hash
dress.headline += " in organic cotton"
dress.save()
out["reembedded"] = wait(lambda: ProductVector.objects.get(product_key=str(dress.pk)).content_hash != old)

# 2. The product page (no form on it) as a logged-in shopper, then a click through the beacon's API.
user = get_user_model().objects.create_user("shopper", password="pw-for-tests-only")
client = Client(enforce_csrf_checks=True)
client.force_login(user)
page = client.get(f"/store/items/{{dress.pk}}/")
html = page.content.decode()
out["page_status"] = page.status_code
out["csrf_cookie"] = "csrftoken" in client.cookies
out["beacon"] = "data-rec-" in html
shown = [k for k in skus["all"] if f'data-rec-product="{{k}}"' in html]
out["shown"] = len(shown)
slot = re.search(r'data-rec-slot="([^"]+)"', html)
click = client.post("/api/recommender/events/", json.dumps(
    {{"type": "click", "product_id": shown[0] if shown else str(dress.pk), "slot": slot[1] if slot else ""}}),
    content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value if out["csrf_cookie"] else "")
out["click_status"] = click.status_code

# 3. Search "black dress".
found = client.get("/api/recommender/search/", {{"q": "black dress", "limit": 10}})
out["search_status"] = found.status_code
out["search"] = found.json()

# 4. Out of stock: gone from cached similar products once the worker has synced it.
anon = Client()
similar = anon.get(f"/api/recommender/similar/{{dress.pk}}/", {{"limit": 10}}).json()["results"]
victim = Item.objects.get(pk=similar[0]["product_id"])
victim.stock_count = 0
victim.save()
out["synced"] = wait(lambda: not ProductVector.objects.get(product_key=str(victim.pk)).in_stock)
again = anon.get(f"/api/recommender/similar/{{dress.pk}}/", {{"limit": 10}}).json()["results"]
out["victim_still_served"] = str(victim.pk) in [r["product_id"] for r in again]
print("RESULT " + json.dumps(out))
"""


def _hm_rows(hm_data: Path, count: int = 150) -> list[dict]:
    with open(hm_data / "articles.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["product_type_name"] in PRODUCT_TYPES and r["image_path"]]
    rng = random.Random(0)
    black_dresses = [r for r in rows if r["product_type_name"] == "Dress" and r["colour_group_name"] == "Black"]
    picked = rng.sample(black_dresses, 12)
    rest = [r for r in rows if r not in picked and (hm_data / r["image_path"]).exists()]
    picked += rng.sample(rest, count - len(picked))
    return [
        {
            "article_id": r["article_id"],
            "name": r["prod_name"],
            "type": r["product_type_name"],
            "colour": r["colour_group_name"],
            "image": r["image_path"],
            "cents": 999 + 100 * (i % 40),
            "blurb": f"{r['colour_group_name']} {r['product_type_name'].lower()}. {r['detail_desc']}",
        }
        for i, r in enumerate(picked)
    ]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout + proc.stderr


def _write_readme_files(project: Path) -> None:
    files, _ = readme_blocks()
    for path, append, code in files:
        target = project / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if append:
            with open(target, "a") as handle:
                handle.write("\n" + code)
        else:
            target.write_text(code)


def test_a_foreign_shop_follows_the_readme(hm_data, tmp_path, fresh_database_url):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env.pop("CELERY_BROKER_URL", None)
    wheel_dir = tmp_path / "wheels"
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
    assert "recommender/celery_settings.py" in zipfile.ZipFile(wheel).namelist()
    py = str(child_venv(tmp_path / "venv"))
    _run(
        [sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "-q", str(wheel)],
        tmp_path,
        env,
    )

    project = tmp_path / "project"
    project.mkdir()
    _run([py, "-m", "django", "startproject", "mysite", "."], project, env)
    _run([py, "manage.py", "startapp", "store"], project, env)
    _write_readme_files(project)
    (project / "store" / "views.py").write_text(SHOP_VIEWS)
    (project / "store" / "urls.py").write_text(SHOP_URLS)
    with open(project / "mysite" / "settings.py", "a") as handle:
        handle.write(SHOP_SETTINGS.format(media=str(hm_data)))
    with open(project / "mysite" / "urls.py", "a") as handle:
        handle.write(SHOP_URLCONF)

    broker = redis_broker() or filesystem_broker(tmp_path)
    env.update(
        DATABASE_URL=fresh_database_url,
        CELERY_BROKER_URL=broker.url,
        CELERY_BROKER_TRANSPORT_OPTIONS=json.dumps(broker.transport_options),
    )
    rows = _hm_rows(hm_data)
    by_article = {r["article_id"]: r for r in rows}

    _, commands = readme_blocks()
    manage = [c for c in commands if c.startswith("python manage.py")]
    worker_cmd = next(c for c in commands if c.startswith("celery "))
    assert manage[:2] == ["python manage.py migrate", "python manage.py check --database default"], manage

    _run([py, "manage.py", "makemigrations", "store"], project, env)  # the shop's own model, as it has already
    _run([py, *shlex.split(manage[0])[1:]], project, env)
    out = _run([py, *shlex.split(manage[1])[1:]], project, env)
    assert "no issues" in out, out
    rows_file = tmp_path / "products.json"
    rows_file.write_text(json.dumps(rows))
    loaded = _run([py, "manage.py", "shell", "-c", LOAD_PRODUCTS.format(rows_file=str(rows_file))], project, env)
    sku_of = dict(line.split()[1:] for line in loaded.splitlines() if line.startswith("KEY "))
    assert len(sku_of) == len(rows)

    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [py, "-m", *shlex.split(worker_cmd.rstrip("&").strip())],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while "ready." not in log_path.read_text() and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "ready." in log_path.read_text(), log_path.read_text()
        trained = _run([py, *shlex.split(manage[2])[1:]], project, env, timeout=1200)
        assert f"Embedded {len(rows)} products" in trained, trained[-3000:]
        assert "No hostname was supplied" not in trained

        dress = next(sku_of[a] for a, r in by_article.items() if r["type"] == "Dress" and r["colour"] == "Black")
        skus = {"dress": dress, "all": list(sku_of.values())}
        session = _run([py, "manage.py", "shell", "-c", SHOP_SESSION.format(skus=json.dumps(skus))], project, env)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    result = json.loads(next(line for line in session.splitlines() if line.startswith("RESULT "))[7:])
    worker_log = log_path.read_text()

    assert result["reembedded"], f"the documented worker never re-embedded the saved product:\n{worker_log[-3000:]}"
    assert result["page_status"] == 200 and result["beacon"] and result["shown"] >= 4, result
    assert result["csrf_cookie"], "the page without a form set no csrftoken cookie: the beacon's POSTs would be 403"
    assert result["click_status"] == 201, result
    assert result["search_status"] == 200
    search_text = json.dumps(result["search"]).lower()
    assert "block" not in search_text, result["search"]
    article_of = {sku: article for article, sku in sku_of.items()}
    top = [by_article[article_of[row["product_id"]]] for row in result["search"]["results"][:5]]
    assert sum(r["type"] == "Dress" and r["colour"] == "Black" for r in top) >= 4, top
    assert result["synced"], f"the worker never synced the stock change:\n{worker_log[-3000:]}"
    assert not result["victim_still_served"], "an out-of-stock product was served from the cache"
