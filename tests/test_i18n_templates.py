"""Issue 20: every word a shopper or an admin can read in the app's and the demo's templates is
marked for translation.

Each template is split with Django's own lexer; what ``{% translate %}``, ``{% blocktranslate %}``,
``{% comment %}`` and any other tag or variable produce counts as handled. The plain text that is
left is parsed as HTML: any text node, or visible attribute (``alt``, ``title``, ``aria-label``,
``placeholder``, a button's ``value``) with a letter in it, is an unmarked string.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.template.base import Lexer, TokenType

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [ROOT / "recommender" / "templates", ROOT / "shopdemo" / "templates"]
# What a tag or a variable renders: never a word of the template's own.
SLOT = "\ue000"
# Tags whose content is marked as a whole (blocktranslate) or never shown (comment).
SKIPPED_BLOCKS = {"blocktranslate": "endblocktranslate", "blocktrans": "endblocktrans", "comment": "endcomment"}
# Blocks whose text is not shown: the admin's {% block bodyclass %} holds CSS class names.
INVISIBLE_BLOCKS = {"bodyclass"}
VISIBLE_ATTRIBUTES = {"alt", "title", "aria-label", "placeholder"}
# Tag options that a tag shows to people ({% search_box placeholder=… %}): given as a literal,
# they are unmarked (pass a variable from {% translate … as name %}, or _("…")).
SHOWN_OPTIONS = re.compile(r"\b(title|placeholder|label)=([\"'])(.*?)\2")
# Not words: notation every language writes the same way ("R@10", recall at 10).
ALLOWED = {"R@"}


class _VisibleText(HTMLParser):
    """Collects the text nodes and visible attribute values that contain letters."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._hidden = 0  # inside <script> or <style>

    def _check(self, text: str) -> None:
        words = " ".join(text.replace(SLOT, " ").split())
        if any(ch.isalpha() for ch in words) and words not in ALLOWED:
            self.found.append(words)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        values = dict(attrs)
        for name, value in attrs:
            shown = name in VISIBLE_ATTRIBUTES or (
                name == "value" and tag == "input" and values.get("type") in ("submit", "button")
            )
            if shown and value:
                self._check(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._check(data)


def unmarked_strings(source: str) -> list[str]:
    """The visible text of a template source that no translation tag covers."""
    skeleton, options, closing = [], [], ""
    for token in Lexer(source).tokenize():
        name = token.contents.split()[0] if token.token_type == TokenType.BLOCK and token.contents else ""
        if closing:
            if name == closing:
                closing = ""
            continue
        if token.token_type == TokenType.TEXT:
            skeleton.append(token.contents)
            continue
        skeleton.append(SLOT)
        literals = [m.group(3) for m in SHOWN_OPTIONS.finditer(token.contents)] if name else []
        options.extend(text for text in literals if any(ch.isalpha() for ch in text))
        closing = SKIPPED_BLOCKS.get(name, "")
        if name == "block" and token.split_contents()[1] in INVISIBLE_BLOCKS:
            closing = "endblock"
    parser = _VisibleText()
    parser.feed("".join(skeleton))
    parser.close()
    return options + parser.found


def templates() -> list[Path]:
    return sorted(p for d in TEMPLATE_DIRS for p in d.rglob("*.html"))


def test_the_checker_finds_unmarked_text_and_passes_marked_text():
    source = (
        '{% load i18n %}<p>Hello {{ name }}</p><img alt="Photo of {{ name }}" src="{{ url }}">'
        '<input type="submit" value="Send"><button aria-label="{% translate "Close" %}">×</button>'
        "<span>{% blocktranslate %}Page {{ n }}{% endblocktranslate %}</span>{% comment %}notes{% endcomment %}"
        '{% search_box placeholder="Find…" title=_("Shown") label=label %}'
        "{% block bodyclass %}{{ block.super }} app-x{% endblock %}<script>let x = 'words';</script><th>R@{{ k }}</th><td>{{ a }} / {{ b }} – 3 · →</td>"
    )
    assert unmarked_strings(source) == ["Find…", "Hello", "Photo of", "Send"]


def test_the_template_folders_hold_templates():
    names = {p.relative_to(ROOT).as_posix() for p in templates()}
    assert "recommender/templates/recommender/slot.html" in names and "shopdemo/templates/shop/base.html" in names


@pytest.mark.parametrize("path", templates(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_visible_string_in_the_templates_is_marked_for_translation(path):
    assert unmarked_strings(path.read_text(encoding="utf-8")) == [], (
        f"{path.relative_to(ROOT)}: wrap these in {{% translate %}} or {{% blocktranslate %}}"
    )
