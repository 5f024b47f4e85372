"""What a value of ``RECOMMENDER["FIELDS"]`` means, parsed once into a small reader.

A field map must cover real shops without a subclass: prices in cents, URLs from a named
pattern, values computed by a function. Each role's value is one of::

    "section.title"                    attribute path through relations (every role but "url")
    ["blurb", "section.title"]         several paths: "text" joins them, other roles take the first non-empty
    None                               the model has no such thing (url: get_absolute_url() if any)
    lambda product: ...                any callable taking the product
    "myshop.catalog:price_of"          "module.path:function", imported when the adapter is built
    ("cost_cents", "0.01")             "price" only: the path's value times an exact factor
    "store:item"                       "url" only: a URL pattern name, reversed with the product's pk
    ("store:item", {"sku": "pk"})      "url" only: reversed with keyword arguments read from the product

:func:`parse_field` turns one value into a spec or raises :class:`FieldFormError` (message and
hint); :mod:`recommender.catalog.field_checks` checks the specs against the model.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from recommender.catalog.base import _resolve_attr

__all__ = ["Call", "FieldFormError", "Paths", "Scaled", "UrlPattern", "parse_field", "setting_name"]

FIELD_ROLES = ("title", "text", "image", "category", "price", "in_stock", "url", "family")
#: Roles whose value is a number, so a scale factor means something.
SCALABLE_ROLES = ("price",)


def setting_name(role: str) -> str:
    return f'RECOMMENDER["FIELDS"]["{role}"]'


class FieldFormError(ValueError):
    """A FIELDS value of no known form; ``hint`` says which forms the role takes."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Paths:
    """Attribute paths ("section.title"); a missing link reads as None."""

    paths: tuple[str, ...]

    def read(self, product: models.Model) -> Any:
        """The first value that is not None or ''."""
        for value in self.read_all(product):
            if value not in (None, ""):
                return value
        return None

    def read_all(self, product: models.Model) -> list[Any]:
        return [_resolve_attr(product, path) for path in self.paths]


@dataclass(frozen=True)
class Call:
    """A host function of the product; ``label`` is how the setting spelled it, for messages."""

    func: Callable[[Any], Any]
    label: str

    def read(self, product: models.Model) -> Any:
        return self.func(product)


@dataclass(frozen=True)
class Scaled:
    """A number read from ``path`` times ``factor`` (exact decimal arithmetic: 1999 x 0.01 = 19.99)."""

    path: str
    factor: Decimal

    def read(self, product: models.Model) -> Decimal | None:
        value = to_decimal(_resolve_attr(product, self.path))
        return None if value is None else value * self.factor


@dataclass(frozen=True)
class UrlPattern:
    """A named URL pattern: one positional argument (the pk), or keyword arguments read by path."""

    name: str
    kwargs: tuple[tuple[str, str], ...] | None = None

    def read(self, product: models.Model) -> str:
        """The reversed URL; raises NoReverseMatch when the product's values do not fit the pattern."""
        if self.kwargs is None:
            return reverse(self.name, args=[product.pk])
        values = {kwarg: _resolve_attr(product, path) for kwarg, path in self.kwargs}
        missing = sorted(kwarg for kwarg, value in values.items() if value in (None, ""))
        if missing:  # reverse() would write "None" into the URL
            raise NoReverseMatch(f"{self.name}: product {product.pk} has no value for {missing}")
        return reverse(self.name, kwargs=values)


FieldSpec = Paths | Call | Scaled | UrlPattern


def to_decimal(value: Any) -> Decimal | None:
    """A Decimal of ``value``, or None when it is empty or not a number."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_field(role: str, value: Any) -> FieldSpec | None:
    """The spec of one FIELDS value (None: the role is not mapped); FieldFormError when malformed."""
    if value is None:
        return None
    if callable(value):
        return Call(_one_argument(role, value, repr(value)), getattr(value, "__qualname__", repr(value)))
    if role == "url":
        return _parse_url(value)
    if isinstance(value, str):
        if ":" in value:
            return Call(_import_function(role, value), value)
        return Paths((value,)) if value else None
    if isinstance(value, tuple) and len(value) == 2 and _is_factor(value[1]):
        return _parse_scaled(role, value)
    if isinstance(value, list | tuple) and all(isinstance(p, str) and p and ":" not in p for p in value):
        return Paths(tuple(value)) if value else None
    raise FieldFormError(
        f"{setting_name(role)} = {value!r} is not a field path, a list of paths, a callable or a "
        '"module:function" path.',
        hint=_forms_hint(role),
    )


def _is_factor(value: Any) -> bool:
    """A number, or a string of one ("0.01"): never an attribute path, which cannot start with a digit."""
    if isinstance(value, str):
        return not value.isidentifier() and "." not in value.strip(".0123456789")
    return not isinstance(value, list | tuple | dict)


def _forms_hint(role: str) -> str:
    forms = '"field" or "relation.field", ["field", ...], None, lambda product: ..., "module.path:function"'
    if role in SCALABLE_ROLES:
        forms += ', ("field", factor) e.g. ("cost_cents", "0.01")'
    return f"{setting_name(role)} takes: {forms} (docs/settings.md, FIELDS)."


def _parse_scaled(role: str, value: tuple[Any, Any]) -> Scaled:
    path, factor = value
    if role not in SCALABLE_ROLES:
        raise FieldFormError(
            f"{setting_name(role)} = {value!r}: a (field, factor) pair only applies to {', '.join(SCALABLE_ROLES)}.",
            hint=_forms_hint(role),
        )
    number = to_decimal(factor)
    if not isinstance(path, str) or not path or number is None or number == 0:
        raise FieldFormError(
            f"{setting_name(role)} = {value!r}: expected (field path, non-zero number).",
            hint=f'For a price in cents: {setting_name(role)} = ("cost_cents", "0.01").',
        )
    return Scaled(path, number)


def _parse_url(value: Any) -> UrlPattern:
    hint = (
        f'{setting_name("url")} takes: "namespace:name" (a URL pattern with one argument, given the product\'s '
        'primary key), ("namespace:name", {"kwarg": "field path", ...}), a callable lambda product: ..., or None '
        "(get_absolute_url())."
    )
    if isinstance(value, str) and value:
        return UrlPattern(value)
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], dict)
        and value[1]
        and all(isinstance(k, str) and isinstance(v, str) and v for k, v in value[1].items())
    ):
        return UrlPattern(value[0], tuple(sorted(value[1].items())))
    raise FieldFormError(f"{setting_name('url')} = {value!r} is not a URL pattern form.", hint=hint)


def _import_function(role: str, dotted: str) -> Callable[[Any], Any]:
    module, _, name = dotted.partition(":")
    try:
        func = import_string(f"{module}.{name}")
    except ImportError as exc:
        raise FieldFormError(
            f"{setting_name(role)} = {dotted!r} could not be imported: {exc}",
            hint='A function path is "package.module:function"; attribute paths use dots only ("section.title").',
        ) from exc
    if not callable(func):
        raise FieldFormError(f"{setting_name(role)} = {dotted!r} is not callable.", hint=_forms_hint(role))
    return _one_argument(role, func, dotted)


def _one_argument(role: str, func: Callable[..., Any], label: str) -> Callable[[Any], Any]:
    """``func`` when it can be called with the product alone."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins have no signature: trust them
        return func
    try:
        signature.bind(object())
    except TypeError as exc:
        raise FieldFormError(
            f"{setting_name(role)} = {label}: the function must take the product as its only argument ({exc}).",
            hint=f"Use e.g. {setting_name(role)} = lambda product: ...",
        ) from exc
    return func
