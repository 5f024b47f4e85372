"""Security finding 1: an elongated photo must not make search by image eat gigabytes.

The pixel limit alone let a 20000x2000 PNG (40 MP, under the limit, ~120 kB) through, and the
encoder then padded it to a 20000x20000 canvas: 11 s and +1.6 GB in one request. Each photo is
posted to the real API (tiny open_clip model, Postgres + pgvector) in a fresh process
(``tests/image_search_probe.py``), whose peak RSS growth is the assertion. The embedding pipeline's
side is in ``tests/test_bad_data.py`` (the "... strip" cases).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from tests.factories import jpeg_bytes
from tests.test_search_ranking import shared_catalog

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
# What one request may add to the process's peak RSS. Decoding the 40 MP photo itself costs
# 160 MB (Pillow keeps RGB as 4 bytes a pixel); anything that pads it to a square costs GBs.
MAX_PEAK_GROWTH_MB = 200


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker, tiny_model_dir):
    with shared_catalog(django_db_blocker, tiny_model_dir) as keys:
        yield keys


@pytest.fixture(scope="module")
def strips(tmp_path_factory) -> dict[str, Path]:
    """One-colour RGB PNGs of 40 MP each (~120 kB on disk), 10:1 and 40:1."""
    folder = tmp_path_factory.mktemp("strips")
    paths = {}
    for width, height in ((20_000, 2_000), (40_000, 1_000)):
        path = folder / f"{width}x{height}.png"
        Image.new("RGB", (width, height), (190, 40, 40)).save(path, optimize=True)
        paths[f"{width}x{height}"] = path
    return paths


def probe(path: Path) -> dict:
    """Post ``path`` to the search-by-image API in a fresh process against this test database."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        RECOMMENDER_TEST_WORKER_DB=connection.settings_dict["NAME"],
        RECOMMENDER_TEST_OVERRIDES=json.dumps(django_settings.RECOMMENDER, default=str),
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.image_search_probe", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shape", "status", "reason"),
    [
        ("20000x2000", 200, None),  # 10:1 is accepted: shrunk once decoded, then padded
        ("40000x1000", 400, "image too elongated: 40000x1000 px, aspect ratio 40 > 10"),
    ],
)
def test_an_elongated_photo_costs_bounded_memory(catalog, strips, shape, status, reason):
    result = probe(strips[shape])
    print(
        f"\n{shape}: {result['seconds']} s wall, {result['cpu_seconds']} s CPU "
        f"(64x48 photo: {result['small_photo_seconds']} s wall), "
        f"peak RSS +{result['peak_growth_mb']} MB"
    )  # shown with -s: the numbers for docs/security.md
    assert result["status"] == status, result
    if reason:
        assert result["body"] == {"image": [reason]}
    else:
        assert result["body"]["results"]  # a real reply, not just a cheap failure
    assert result["peak_growth_mb"] < MAX_PEAK_GROWTH_MB, result


def test_the_aspect_ratio_cap_is_a_setting(catalog, client, settings):
    tall = jpeg_bytes((190, 40, 40), size=(30, 200))  # 1:6.7
    ok = client.post("/api/recommender/search/image/", {"image": SimpleUploadedFile("a.jpg", tall)})
    assert ok.status_code == 200, ok.content
    settings.RECOMMENDER = {**settings.RECOMMENDER, "MAX_IMAGE_ASPECT_RATIO": 5}
    refused = client.post("/api/recommender/search/image/", {"image": SimpleUploadedFile("a.jpg", tall)})
    assert refused.status_code == 400
    assert refused.json() == {"image": ["image too elongated: 30x200 px, aspect ratio 6.66667 > 5"]}
