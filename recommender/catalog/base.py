"""The one place that knows the host's product model.

Everything else in the app speaks in *product keys*: the host primary key as a string,
whatever its type (int, UUID, str). Subclass :class:`CatalogAdapter` when a field map is not
enough (computed stock, prices in another table, images from a CDN) and point
``RECOMMENDER["CATALOG_ADAPTER"]`` at the subclass; docs/catalog_adapter.md has a worked example.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.urls import NoReverseMatch

from recommender.conf import app_settings

logger = logging.getLogger(__name__)


class CatalogAdapter:
    """Reads products of the host's model; subclass and override what differs."""

    #: Longest product key the storage accepts (CharField length in the shipped migrations).
    MAX_KEY_LENGTH = 64

    def __init__(self, product_model: str | None = None) -> None:
        self.model_label = product_model or app_settings.PRODUCT_MODEL
        self.model = resolve_product_model(self.model_label)

    # --- keys --------------------------------------------------------------------------
    def key(self, product: models.Model) -> str:
        """The product's key: its primary key as a string."""
        return str(product.pk)

    def to_pk(self, key: str) -> Any:
        """Turn a key back into a primary key value of the host's type (raises ValidationError)."""
        return self.model._meta.pk.to_python(key)

    # --- querysets ---------------------------------------------------------------------
    def get_queryset(self) -> models.QuerySet:
        """All products the recommender may know about (sellable or not)."""
        return self.model._default_manager.all()

    def sellable_queryset(self) -> models.QuerySet:
        """Products that may be shown to shoppers."""
        return self.get_queryset().filter(**app_settings.SELLABLE_FILTER)

    def products_by_keys(self, keys: Sequence[str]) -> list[models.Model]:
        """Load products in the order of ``keys``; unknown or malformed keys are skipped."""
        pks = []
        for key in keys:
            with contextlib.suppress(Exception):  # a malformed key is an unknown product
                pks.append(self.to_pk(key))
        found = {self.key(p): p for p in self.get_queryset().filter(pk__in=pks)}
        return [found[k] for k in keys if k in found]

    # --- product attributes (override these) -------------------------------------------
    def title(self, product: models.Model) -> str:
        """The product's name, as shoppers see it (slots, search results, API)."""
        return ""

    def text(self, product: models.Model) -> str:
        """Descriptive text for the text encoder and full-text search ('' when there is none)."""
        return ""

    def image(self, product: models.Model) -> Any:
        """An image source (FieldFile, path, bytes) or None."""
        return None

    def category(self, product: models.Model) -> str:
        """One category name (any text); filters, facets and rules match it exactly."""
        return ""

    def family(self, product: models.Model) -> str:
        """The key the product's variants share (a parent product, a style code: the colours and
        sizes of one garment), '' for none. "For you" offers other variants of what a shopper
        bought or viewed; families are read when a behaviour model is trained."""
        return ""

    def families(self, keys: Sequence[str], batch: int = 2000) -> dict[str, str]:
        """Product key -> family of the products of ``keys`` that have one (unknown keys skipped)."""
        out: dict[str, str] = {}
        keys = list(keys)
        for start in range(0, len(keys), batch):
            for product in self.products_by_keys(keys[start : start + batch]):
                family = str(self.family(product) or "")
                if family:
                    out[self.key(product)] = family
        return out

    def price(self, product: models.Model) -> Decimal | None:
        """The price in the shop's currency unit (19.99, not cents); None when unknown.

        Stored on the vector rows, so price filters, facets and rules all use this value."""
        return None

    def in_stock(self, product: models.Model) -> bool:
        """Whether the product can be bought now; out-of-stock products are never recommended."""
        return True

    def url(self, product: models.Model) -> str | None:
        """The product page's URL: ``get_absolute_url()`` when the model has one, else None.

        A URL that does not reverse is logged and None: one bad product never breaks a page."""
        get_url = getattr(product, "get_absolute_url", None)
        if not callable(get_url):
            return None
        try:
            return str(get_url())
        except NoReverseMatch:
            logger.warning("get_absolute_url() of product %s does not reverse", product.pk, exc_info=True)
            return None

    def is_sellable(self, product: models.Model) -> bool:
        """Whether the product passes SELLABLE_FILTER (denormalised into the vector table)."""
        flt = app_settings.SELLABLE_FILTER
        if not flt:
            return True
        return self.sellable_queryset().filter(pk=product.pk).exists()

    def sellable_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` pass SELLABLE_FILTER, in one query."""
        pks = [self.to_pk(k) for k in keys]
        return {str(pk) for pk in self.sellable_queryset().filter(pk__in=pks).values_list("pk", flat=True)}

    def document(self, product: models.Model) -> str:
        """The text the text encoder sees, built from ``TEXT_TEMPLATE``."""
        values = _TemplateValues(product, self)
        text = app_settings.TEXT_TEMPLATE.format_map(values)
        return " ".join(text.split())


class _TemplateValues(dict):
    """format_map source: adapter fields first, then product attributes, missing -> ''."""

    def __init__(self, product: models.Model, adapter: CatalogAdapter) -> None:
        super().__init__()
        self.product = product
        self.adapter = adapter

    def __missing__(self, name: str) -> str:
        method = getattr(self.adapter, name, None) if name in ("title", "text", "category") else None
        value = method(self.product) if method else _resolve_attr(self.product, name)
        return "" if value is None else str(value)


def _resolve_attr(obj: Any, path: str) -> Any:
    """Follow a dotted attribute path ("brand.name"); a missing link gives None."""
    for part in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
        if callable(obj) and not isinstance(obj, models.Manager):
            obj = obj()
    return obj


def resolve_product_model(label: str | None) -> type[models.Model]:
    """The host's product model class, or ImproperlyConfigured naming the setting."""
    if not label:
        raise ImproperlyConfigured(
            'RECOMMENDER["PRODUCT_MODEL"] is not set. Set it to "app_label.ModelName" of your product model.'
        )
    try:
        return apps.get_model(label, require_ready=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f'RECOMMENDER["PRODUCT_MODEL"] must be of the form "app_label.ModelName", not {label!r}.'
        ) from exc
    except LookupError as exc:
        raise ImproperlyConfigured(
            f'RECOMMENDER["PRODUCT_MODEL"] refers to {label!r}, which is not an installed model. '
            "Check the app is in INSTALLED_APPS and the model name is spelled right."
        ) from exc
