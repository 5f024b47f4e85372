"""The default adapter: product attributes named in ``RECOMMENDER["FIELDS"]``.

    RECOMMENDER = {
        "PRODUCT_MODEL": "store.Item",
        "FIELDS": {"title": "headline", "text": ["blurb", "section.title"], "image": "picture",
                   "category": "section.title", "price": ("cost_cents", "0.01"),
                   "in_stock": "stock_count", "url": ("store:item", {"sku": "pk"}),
                   "family": "parent_id"},
    }

A value may be a field name, a dotted path through ForeignKey/OneToOne relations, ``None``,
a callable or ``"module:function"``, a ``(field, factor)`` price scale, and for ``url`` a URL
pattern name (see :mod:`recommender.catalog.field_specs` and docs/settings.md). ``in_stock``
may name a boolean or a quantity (in stock when > 0). Every path is checked against the model
when the adapter is built, so a wrong one is an error, never silently empty values.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.urls import NoReverseMatch

from recommender.catalog.base import CatalogAdapter
from recommender.catalog.field_checks import field_problems, parse_fields, related_paths
from recommender.catalog.field_specs import FIELD_ROLES, FieldSpec, Paths, to_decimal
from recommender.conf import app_settings

__all__ = ["FIELD_ROLES", "FieldMapAdapter"]

logger = logging.getLogger(__name__)


class FieldMapAdapter(CatalogAdapter):
    """Reads each role from the attribute, function or URL pattern the field map names."""

    def __init__(self, product_model: str | None = None, fields: dict[str, Any] | None = None) -> None:
        super().__init__(product_model)
        self.fields = {**app_settings.FIELDS, **(fields or {})}
        self.specs, problems = parse_fields(self.fields)
        problems += field_problems(self.model, self.specs)
        if problems:
            raise ImproperlyConfigured("; ".join(p.message for p in problems))
        self.related = related_paths(self.model, self.specs)

    def get_queryset(self) -> models.QuerySet:
        """All products, with the relations the field map reads joined in (no query per product)."""
        queryset = super().get_queryset()
        return queryset.select_related(*self.related) if self.related else queryset

    def _spec(self, role: str) -> FieldSpec | None:
        return self.specs.get(role)

    def _get(self, product: models.Model, role: str) -> Any:
        spec = self._spec(role)
        return None if spec is None else spec.read(product)

    def title(self, product: models.Model) -> str:
        return str(self._get(product, "title") or "")

    def text(self, product: models.Model) -> str:
        spec = self._spec("text")
        parts = spec.read_all(product) if isinstance(spec, Paths) else [self._get(product, "text")]
        return ". ".join(str(p) for p in parts if p not in (None, ""))

    def image(self, product: models.Model) -> Any:
        value = self._get(product, "image")
        # An empty FieldFile is falsy: no image.
        return value if value else None

    def category(self, product: models.Model) -> str:
        return str(self._get(product, "category") or "")

    def family(self, product: models.Model) -> str:
        return str(self._get(product, "family") or "")

    def families(self, keys: Sequence[str], batch: int = 2000) -> dict[str, str]:
        """No product has a family when the field map names none: nothing is read (training asks
        for every product's)."""
        if self._spec("family") is None:
            return {}
        return super().families(keys, batch)

    def price(self, product: models.Model) -> Decimal | None:
        return to_decimal(self._get(product, "price"))

    def in_stock(self, product: models.Model) -> bool:
        if self._spec("in_stock") is None:
            return True
        value = self._get(product, "in_stock")
        if isinstance(value, bool) or value is None:
            return bool(value)
        try:
            return float(value) > 0
        except (TypeError, ValueError):
            return bool(value)

    def url(self, product: models.Model) -> str | None:
        if self._spec("url") is None:
            return super().url(product)
        try:
            value = self._get(product, "url")
        except NoReverseMatch:
            logger.warning('RECOMMENDER["FIELDS"]["url"] does not reverse for product %s', product.pk, exc_info=True)
            return None
        return None if value in (None, "") else str(value)
