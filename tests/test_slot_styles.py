"""The default slots come with a stylesheet: a card grid with sized images (issue 14, item 10).

Linked once per page (by the first slot, or by ``{% recommender_styles %}`` in ``<head>``),
switched off or replaced with ``RECOMMENDER["STYLESHEET"]``, found by the staticfiles finders
and shipped in the wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.template import RequestContext, Template

from tests.test_template_tags import _request

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
LINK = '<link rel="stylesheet" href="/static/recommender/recommender.css">'
PAGE = """{% load recommender_tags %}<html><head>HEAD</head><body>
{% similar_products key limit=3 %}{% similar_products key limit=2 slot="more" %}{% trending_products limit=2 %}
</body></html>"""


def render_page(key: str, head: str = "") -> str:
    return Template(PAGE.replace("HEAD", head)).render(RequestContext(_request(), {"key": key}))


def test_the_first_slot_links_the_stylesheet_once_per_page(vector_shop):
    html = render_page(vector_shop["dress-a"])
    assert html.count('class="recommender-slot"') == 3
    assert html.count(LINK) == 1
    assert html.index(LINK) < html.index('class="recommender-slot"')


def test_recommender_styles_links_it_in_the_head_and_the_slots_then_do_not(vector_shop):
    html = render_page(vector_shop["dress-a"], head="{% recommender_styles %}")
    assert html.count(LINK) == 1
    assert html.index(LINK) < html.index("</head>")


def test_a_slot_template_without_the_link_does_not_use_it_up(vector_shop, tmp_path, settings):
    (tmp_path / "plain.html").write_text("<div>{% for card in cards %}{{ card.title }}{% endfor %}</div>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    source = '{% load recommender_tags %}{% similar_products key template="plain.html" %}{% trending_products %}'
    html = Template(source).render(RequestContext(_request(), {"key": vector_shop["dress-a"]}))
    assert html.count(LINK) == 1 and html.index(LINK) > html.index("</div>")


@pytest.mark.parametrize(
    "value, expected",
    [
        (False, None),
        (None, None),
        ("shop/recommendations.css", '<link rel="stylesheet" href="/static/shop/recommendations.css">'),
        ("https://cdn.example.com/recs.css", '<link rel="stylesheet" href="https://cdn.example.com/recs.css">'),
    ],
)
def test_the_setting_turns_it_off_or_names_another_file(vector_shop, settings, value, expected):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "STYLESHEET": value}
    for head in ("", "{% recommender_styles %}"):
        html = render_page(vector_shop["dress-a"], head=head)
        assert html.count('class="recommender-slot"') == 3
        assert "/static/recommender/recommender.css" not in html
        assert html.count("<link") == (1 if expected else 0)
        if expected:
            assert expected in html


def test_the_stylesheet_is_a_static_file_with_a_card_grid_and_sized_images():
    path = finders.find("recommender/recommender.css")
    assert path, "recommender/recommender.css is not found by the staticfiles finders"
    css = Path(path).read_text()
    for rule in ("display: grid", "grid-template-columns", "aspect-ratio", "object-fit", ".recommender-card__image"):
        assert rule in css, rule


@pytest.mark.slow
def test_the_stylesheet_is_in_the_wheel(tmp_path):
    # Built from a clean copy: an in-tree build reuses build/lib, which may hold stale files.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "recommender", source / "recommender", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)]
    subprocess.run([*build, str(source)], check=True, cwd=tmp_path, capture_output=True)
    wheel = next(tmp_path.glob("django_recommender-*.whl"))
    assert "recommender/static/recommender/recommender.css" in zipfile.ZipFile(wheel).namelist()
