"""Chinese screenshots of the demo shop for the README: ``python bench/demo_screenshots_zh.py [URL] [QUERY]``.

Start the demo first (``bash shopdemo/run.sh``, default URL http://127.0.0.1:8000). Needs
Playwright (dev extra) and Debian's chromium. Picks 简体中文 in the header's language picker (a
POST to Django's set_language, which sets the language cookie), then writes
docs/screenshots/shop-{home,product,search}-zh.png: the home page, the first trending product, and
the results for QUERY (default "black dress"; product titles are the shop's data and stay as
stored).
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def main(url: str, query: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/")
        with page.expect_navigation():
            page.select_option(".language-picker select", "zh-hans")  # submits the form
        page.wait_for_selector('html[lang="zh-hans"]')
        page.screenshot(path=OUT / "shop-home-zh.png", full_page=True)
        page.click('[data-rec-slot="home-trending"] [data-rec-product] a')
        page.wait_for_selector('[data-testid="product"]')
        page.screenshot(path=OUT / "shop-product-zh.png", full_page=True)
        page.goto(f"{url}/search/?q={quote(query)}", timeout=180_000)  # the first query loads the text encoder
        page.wait_for_selector(".recommender-results")
        page.screenshot(path=OUT / "shop-search-zh.png", full_page=False)
        browser.close()
    print(f"Screenshots in {OUT}")


if __name__ == "__main__":
    main(
        sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000",
        sys.argv[2] if len(sys.argv) > 2 else "black dress",
    )
