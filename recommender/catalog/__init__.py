"""Catalog adapters: how the app reads the host's products.

``get_adapter()`` returns the configured adapter (cached; cleared when settings change).
"""

from __future__ import annotations

from functools import lru_cache

from recommender.catalog.base import CatalogAdapter, resolve_product_model
from recommender.catalog.field_map import FieldMapAdapter

__all__ = ["CatalogAdapter", "FieldMapAdapter", "get_adapter", "resolve_product_model"]


@lru_cache(maxsize=1)
def get_adapter() -> CatalogAdapter:
    """The adapter configured by ``RECOMMENDER["CATALOG_ADAPTER"]``."""
    from recommender.conf import app_settings

    return app_settings.CATALOG_ADAPTER()
