"""Rendered slots of the app's own slot templates, cached by exactly what they show.

Loading a slot's host products and rendering its cards cost more than finding the products once
the results cache holds them (a product page spent about half its time there). The HTML of a
slot is a pure function of the products it shows (keys, reasons, positions), its title, slot and
strategy, the active language and the stored product fields (title, price, stock, category,
image: any change bumps the catalogue generation), so it is cached under those and nothing of
the shopper: two shoppers shown the same products share one entry, a shopper shown different
ones misses. Only the app's own templates are cached: a shop's override may show per-shopper
things (a wishlist heart), so it is always rendered. The stylesheet link, which only a page's
first slot carries, is never part of the cached HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from recommender.cache import cached, catalogue_generation

APP_TEMPLATES = Path(__file__).resolve().parent / "templates"


def origin_name(template: Any) -> str:
    """The file a loaded template came from ("" when it has none)."""
    return str(getattr(getattr(template, "origin", None), "name", "") or "")


@lru_cache(maxsize=256)
def _is_app_file(name: str) -> bool:
    try:
        return bool(name) and Path(name).resolve().is_relative_to(APP_TEMPLATES)
    except (OSError, ValueError):
        return False


def is_app_template(template: Any) -> bool:
    """True when ``template`` (a loaded template) is one of this app's own files, not an override."""
    return _is_app_file(origin_name(template))


def shown(items: Sequence[Any]) -> tuple:
    """What of each recommendation a slot template shows: key, reason and position."""
    return tuple((item.product_key, str(item.reason), item.position) for item in items)


def rendered_slot(
    template: Any,
    *,
    strategy: str,
    slot: str,
    title: str,
    items: Sequence[Any],
    timeout: int,
    render: Callable[[], str],
) -> str:
    """``render()``, cached for ``timeout`` seconds under what the slot shows (see module docstring)."""
    parts = ("slot-html", origin_name(template), strategy, slot, str(title), shown(items), catalogue_generation())
    return cached(parts, render, timeout)
