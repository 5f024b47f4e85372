"""recommender: multimodal product recommendations and semantic search for Django shops.

Add ``"recommender"`` to ``INSTALLED_APPS``, set ``RECOMMENDER = {"PRODUCT_MODEL": "shop.Product"}``
and run ``migrate``. See README.md and docs/settings.md.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
