"""Chinese typed through an input method in a real browser: suggest.js waits for the composition.

Chrome's DevTools protocol drives the IME as an operating system would: ``Input.imeSetComposition``
shows the pinyin being composed (compositionstart, input events with ``isComposing``), and
``Input.insertText`` commits the chosen character (compositionend). While composing, the field
holds pinyin ("hei"), which is no query; suggestions are fetched once per committed text.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from recommender.models import RecommenderSettings
from recommender.search import refresh_suggestions
from tests.test_browser import browser, demo_shop  # noqa: F401 (fixtures)
from tests.test_search_suggest import searched

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# A shopper pauses while choosing a character far longer than suggest.js's 150 ms debounce.
PAUSE_MS = 600


def compose(cdp, page, keys: str, character: str) -> None:
    """Type ``keys`` as pinyin into the IME, pause, then commit ``character``."""
    for end in range(1, len(keys) + 1):
        cdp.send("Input.imeSetComposition", {"text": keys[:end], "selectionStart": end, "selectionEnd": end})
    page.wait_for_timeout(PAUSE_MS)
    cdp.send("Input.insertText", {"text": character})


def test_chinese_suggestions_through_ime_composition(browser, demo_shop, live_server):  # noqa: F811
    product = demo_shop[0]
    searched("黑色连衣裙", range(RecommenderSettings.get().suggestion_min_sessions), product_key=str(product.pk))
    refresh_suggestions()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    typed: list[str] = []
    page.on(
        "request",
        lambda request: (
            typed.extend(parse_qs(urlparse(request.url).query).get("q", [])) if "suggest" in request.url else None
        ),
    )
    page.goto(live_server.url + "/")
    box = page.locator("header input[role=combobox]")
    box.focus()
    cdp = page.context.new_cdp_session(page)
    options = page.locator('header [role="listbox"]:not([hidden]) [role="option"]')

    compose(cdp, page, "hei", "黑")
    options.first.wait_for()
    assert typed == ["黑"]  # nothing while "h", "he", "hei" were composed; one request at the end
    assert "黑色连衣裙" in options.all_inner_texts()

    compose(cdp, page, "se", "色")
    page.wait_for_function("() => document.querySelector('header input[role=combobox]').value === '黑色'")
    page.locator('header [role="option"]:has-text("黑色连衣裙")').wait_for()
    page.wait_for_timeout(PAUSE_MS)  # room for a stray request to show up before counting
    assert typed == ["黑", "黑色"]
    assert errors == []
