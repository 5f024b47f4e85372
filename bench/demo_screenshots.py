"""Screenshots of the demo shop for the README: ``python bench/demo_screenshots.py [URL]``.

Start the demo first (``bash shopdemo/run.sh``, default URL http://127.0.0.1:8000). Needs
Playwright (dev extra) and Debian's chromium. Writes docs/screenshots/shop-*.png: an anonymous
visit (home, product), then demo shopper demo1's home with personal picks, and the cart.
"""

from __future__ import annotations

import sys
from pathlib import Path

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


def main(url: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/")
        page.screenshot(path=OUT / "shop-home-anonymous.png", full_page=True)
        page.click('[data-rec-slot="home-trending"] [data-rec-product] a')
        page.wait_for_selector('[data-testid="product"]')
        page.screenshot(path=OUT / "shop-product.png", full_page=True)
        page.goto(url + "/accounts/login/")
        page.fill("#id_username", "demo1")
        page.fill("#id_password", "demo")
        page.click("button[type=submit]")
        page.wait_for_url(url + "/")
        page.screenshot(path=OUT / "shop-home.png", full_page=True)
        page.click('[data-rec-slot="home-for-you"] [data-rec-product] a')
        page.wait_for_selector('[data-testid="add-to-cart"]')
        page.click('[data-testid="add-to-cart"]')
        page.wait_for_selector('[data-testid="checkout"]')
        page.screenshot(path=OUT / "shop-cart.png", full_page=True)
        browser.close()
    print(f"Screenshots in {OUT}")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000")
