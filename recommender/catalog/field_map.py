"""The default adapter: product attributes named in ``RECOMMENDER["FIELDS"]``.

    RECOMMENDER = {
        "PRODUCT_MODEL": "shop.Product",
        "FIELDS": {"title": "name", "text": ["description", "brand.name"], "image": "photo",
                   "category": "category.name", "price": "price", "in_stock": "stock"},
    }

A value may be a field name, a dotted path through relations/attributes, or ``None`` when the
model has no such attribute. ``in_stock`` may name a boolean or a quantity (in stock when > 0).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models

from recommender.catalog.base import CatalogAdapter, _resolve_attr
from recommender.conf import app_settings

FIELD_ROLES = ("title", "text", "image", "category", "price", "in_stock")


class FieldMapAdapter(CatalogAdapter):
    """Reads each role from the attribute the field map names."""

    def __init__(self, product_model: str | None = None, fields: dict[str, Any] | None = None) -> None:
        super().__init__(product_model)
        self.fields = {**app_settings.FIELDS, **(fields or {})}
        unknown_roles = set(self.fields) - set(FIELD_ROLES)
        if unknown_roles:
            raise ImproperlyConfigured(
                f'RECOMMENDER["FIELDS"] has unknown keys {sorted(unknown_roles)}; allowed: {list(FIELD_ROLES)}.'
            )
        problems = missing_fields(self.model, self.fields)
        if problems:
            raise ImproperlyConfigured("; ".join(problems))

    def _paths(self, role: str) -> list[str]:
        value = self.fields.get(role)
        if not value:
            return []
        return [value] if isinstance(value, str) else list(value)

    def _get(self, product: models.Model, role: str) -> Any:
        paths = self._paths(role)
        return _resolve_attr(product, paths[0]) if paths else None

    def title(self, product: models.Model) -> str:
        return str(self._get(product, "title") or "")

    def text(self, product: models.Model) -> str:
        parts = [_resolve_attr(product, p) for p in self._paths("text")]
        return ". ".join(str(p) for p in parts if p not in (None, ""))

    def image(self, product: models.Model) -> Any:
        value = self._get(product, "image")
        # An empty FieldFile is falsy: no image.
        return value if value else None

    def category(self, product: models.Model) -> str:
        return str(self._get(product, "category") or "")

    def price(self, product: models.Model) -> Decimal | None:
        value = self._get(product, "price")
        if value is None or value == "":
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None

    def in_stock(self, product: models.Model) -> bool:
        if not self._paths("in_stock"):
            return True
        value = self._get(product, "in_stock")
        if isinstance(value, bool) or value is None:
            return bool(value)
        try:
            return float(value) > 0
        except (TypeError, ValueError):
            return bool(value)


def missing_fields(model: type[models.Model], fields: dict[str, Any]) -> list[str]:
    """Messages for field-map entries whose first path segment the model does not have."""
    problems = []
    for role, value in fields.items():
        for path in [value] if isinstance(value, str) else list(value or []):
            head = path.split(".")[0]
            try:
                model._meta.get_field(head)
            except FieldDoesNotExist:
                if not hasattr(model, head):
                    problems.append(
                        f'RECOMMENDER["FIELDS"]["{role}"] = {path!r}: {model._meta.label} has no field '
                        f'or attribute {head!r}. Name an existing field or set it to None.'
                    )
    return problems
