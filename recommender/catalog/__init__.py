"""Catalog adapters: how the app reads the host's products.

``get_adapter()`` returns the configured adapter (cached; cleared when settings change).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.test.signals import setting_changed

from recommender.catalog.base import CatalogAdapter, resolve_product_model
from recommender.catalog.field_map import FieldMapAdapter
from recommender.conf import SETTING_NAME, app_settings

__all__ = ["CatalogAdapter", "FieldMapAdapter", "get_adapter", "resolve_product_model"]


@lru_cache(maxsize=1)
def get_adapter() -> CatalogAdapter:
    """The adapter configured by ``RECOMMENDER["CATALOG_ADAPTER"]``."""
    return app_settings.CATALOG_ADAPTER()


def _forget_adapter(*, setting: str, **kwargs: Any) -> None:
    """A changed ``RECOMMENDER`` may name another adapter or field map (``override_settings``)."""
    if setting == SETTING_NAME:
        get_adapter.cache_clear()


setting_changed.connect(_forget_adapter, dispatch_uid="recommender.catalog.adapter")
