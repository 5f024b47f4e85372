"""recommender: multimodal product recommendations and semantic search for Django shops.

Add ``"recommender"`` to ``INSTALLED_APPS``, set ``RECOMMENDER = {"PRODUCT_MODEL": "shop.Product"}``
and run ``migrate``. See README.md and docs/settings.md. The public Python API, flat::

    from recommender import record_event, recommend, search_products, suggest

    record_event("purchase", request=request, product_key="0717727005", quantity=1)
    recs = recommend("similar", product_key="0717727005", request=request, limit=8)
    results = search_products("maroon pullover", filters=SearchFilters(categories=("Sweater",)), request=request)

``search_products`` is ``recommender.search.search``: the short name belongs to the subpackage.

Names load on first access (PEP 562): importing the package, as Django does at start-up,
imports nothing else (no models, no numpy, no torch).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time names load lazily below
    from recommender.events import EventError, merge_session, record_event
    from recommender.indexing import reindex
    from recommender.privacy import (
        delete_user_data,
        export_user_data,
        personalisation_enabled,
        set_personalisation,
    )
    from recommender.recommend import Recommendation, Recommendations, UnknownStrategy, recommend
    from recommender.search import SearchFilters, SearchResults, related_searches, search_by_image, suggest
    from recommender.search import search as search_products
    from recommender.storage import VectorFilter, nearest, nearest_blend
    from recommender.versions import encoder_for, serving_version

# Public name -> (defining module, its name there).
_EXPORTS = {
    "EventError": ("events", "EventError"),
    "merge_session": ("events", "merge_session"),
    "record_event": ("events", "record_event"),
    "reindex": ("indexing", "reindex"),
    "delete_user_data": ("privacy", "delete_user_data"),
    "export_user_data": ("privacy", "export_user_data"),
    "personalisation_enabled": ("privacy", "personalisation_enabled"),
    "set_personalisation": ("privacy", "set_personalisation"),
    "Recommendation": ("recommend", "Recommendation"),
    "Recommendations": ("recommend", "Recommendations"),
    "UnknownStrategy": ("recommend", "UnknownStrategy"),
    "recommend": ("recommend", "recommend"),
    "SearchFilters": ("search", "SearchFilters"),
    "SearchResults": ("search", "SearchResults"),
    "related_searches": ("search", "related_searches"),
    "search_products": ("search", "search"),
    "search_by_image": ("search", "search_by_image"),
    "suggest": ("search", "suggest"),
    "VectorFilter": ("storage", "VectorFilter"),
    "nearest": ("storage", "nearest"),
    "nearest_blend": ("storage", "nearest_blend"),
    "encoder_for": ("versions", "encoder_for"),
    "serving_version": ("versions", "serving_version"),
}

__all__ = [
    "EventError",
    "Recommendation",
    "Recommendations",
    "SearchFilters",
    "SearchResults",
    "UnknownStrategy",
    "VectorFilter",
    "__version__",
    "delete_user_data",
    "encoder_for",
    "export_user_data",
    "merge_session",
    "nearest",
    "nearest_blend",
    "personalisation_enabled",
    "recommend",
    "record_event",
    "reindex",
    "related_searches",
    "search_by_image",
    "search_products",
    "serving_version",
    "set_personalisation",
    "suggest",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'recommender' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(import_module(f"recommender.{module}"), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
