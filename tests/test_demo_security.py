"""Security finding 9 and ``check --deploy``: the demo shop is safe to expose by default.

DEBUG is off unless DJANGO_DEBUG=1, the SECRET_KEY is generated per installation (a 0600 file,
reused), keys no product can have are a 404 (a NUL in ``/p/%00/`` was a database error, so a
500 debug page), product photos are still served with DEBUG off, and ``manage.py check --deploy``
leaves only the warnings that plain http on localhost must leave (DJANGO_HTTPS=1 clears them).
The settings module reads the environment at import, so its checks run in a fresh process.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from shopdemo.catalog.models import Product
from shopdemo.secret_key import load_or_create_secret_key
from tests.factories import jpeg_bytes
from tests.test_browser import SHOP_RECOMMENDER

ROOT = Path(__file__).resolve().parent.parent
# Never reached: it only keeps the demo's settings from starting an embedded Postgres.
UNUSED_DATABASE = "postgres://nobody:nothing@127.0.0.1:9/none"
HTTP_ONLY_WARNINGS = ["security.W004", "security.W008", "security.W012", "security.W016"]
# HSTS for subdomains and the browsers' preload list are decisions about a whole domain.
HTTPS_WARNINGS = ["security.W005", "security.W021"]


def demo_process(code: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` (or manage.py arguments) with the demo's settings and a clean environment."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SHOPDEMO_", "DATABASE_URL"))}
    environ.update(
        DJANGO_SETTINGS_MODULE="shopdemo.settings",
        SHOPDEMO_DATA_DIR=str(data_dir),
        DATABASE_URL=UNUSED_DATABASE,
        PYTHONPATH=str(ROOT),
        **env,
    )
    command = [sys.executable, "manage.py", *code.split()] if code.startswith("check") else [sys.executable, "-c", code]
    return subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300, check=False)


SHOW_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'key': s.SECRET_KEY}))"
)


def demo_settings(data_dir: Path, **env: str) -> dict:
    done = demo_process(SHOW_SETTINGS, data_dir, **env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_debug_is_off_and_the_key_is_generated_once(tmp_path: Path) -> None:
    first = demo_settings(tmp_path)
    assert first["debug"] is False
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first["key"] == key_file.read_text().strip() and len(first["key"]) >= 50
    assert "insecure" not in first["key"]
    assert demo_settings(tmp_path)["key"] == first["key"]  # reused: sessions survive a restart
    assert demo_settings(tmp_path / "other")["key"] != first["key"]  # unique per installation

    assert demo_settings(tmp_path, DJANGO_DEBUG="1")["debug"] is True  # only on request
    assert demo_settings(tmp_path, DJANGO_DEBUG="0")["debug"] is False
    given = "k" * 20 + "-given-by-the-environment-" + "y" * 20
    assert demo_settings(tmp_path / "env", DJANGO_SECRET_KEY=given)["key"] == given
    assert not (tmp_path / "env" / "secret_key").exists()


def test_secret_key_file_is_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret_key"
    key = load_or_create_secret_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and load_or_create_secret_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary file left behind
    path.write_text("short\n")
    with pytest.raises(RuntimeError, match="no usable secret key"):
        load_or_create_secret_key(path)


@pytest.mark.parametrize(
    ("https", "expected"),
    [("", HTTP_ONLY_WARNINGS), ("1", HTTPS_WARNINGS)],
)
def test_check_deploy_leaves_only_the_explained_warnings(tmp_path: Path, https: str, expected: list[str]) -> None:
    done = demo_process("check --deploy --fail-level ERROR", tmp_path, DJANGO_HTTPS=https)
    assert done.returncode == 0, done.stderr[-3000:]  # no error at all (drf_spectacular.E001 was one)
    found = sorted({word.strip("():") for word in done.stderr.split() if word.startswith("(security.")})
    assert found == expected, done.stderr
    assert "issues (0 silenced)" in done.stderr and f"identified {len(expected)} issues" in done.stderr


@pytest.fixture
def demo_pages(settings, tmp_path):
    """The demo's URLs and templates on the test database, DEBUG off, one product with a photo."""
    settings.ROOT_URLCONF = "shopdemo.urls"
    settings.DEBUG = False
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [ROOT / "shopdemo" / "templates"]}]
    settings.TEMPLATES[0]["OPTIONS"] = {
        **settings.TEMPLATES[0]["OPTIONS"],
        "context_processors": [
            *settings.TEMPLATES[0]["OPTIONS"]["context_processors"],
            "shopdemo.catalog.context_processors.shop",
        ],
    }
    settings.RECOMMENDER = {**settings.RECOMMENDER, **SHOP_RECOMMENDER}
    product = Product(id="G0001", name="Linen shirt", category="Shirt", price=20)
    product.image.save("shirt.jpg", ContentFile(jpeg_bytes((20, 90, 200))), save=False)
    product.save()
    return product


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/p/%00/"),
        ("get", "/c/%00/"),
        ("post", "/cart/add/%00/"),
        ("get", "/p/G0001%00/"),
        ("get", "/p/%01%1f/"),
        ("get", "/p/" + "G" * 33 + "/"),  # longer than any key (CharField(max_length=32))
        ("post", "/cart/add/" + "G" * 33 + "/"),
        ("get", "/p/G9999/"),  # a possible key, no such product
    ],
)
def test_keys_no_product_can_have_are_404(client, demo_pages, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 404
    assert b"Traceback" not in response.content


@pytest.mark.django_db
def test_the_demo_pages_and_photos_still_work_with_debug_off(client, demo_pages):
    assert client.get("/p/G0001/").status_code == 200
    assert client.get("/c/Shirt/").status_code == 200
    added = client.post("/cart/add/G0001/")
    assert added.status_code == 302 and client.session["cart"] == {"G0001": 1}
    photo = client.get(demo_pages.image.url)
    assert photo.status_code == 200 and b"".join(photo.streaming_content).startswith(b"\xff\xd8")
    assert client.get("/media/../settings.py").status_code == 400  # outside MEDIA_ROOT: refused
