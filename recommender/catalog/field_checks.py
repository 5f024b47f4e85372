"""Check a field map against the host's model, so a wrong path fails ``check``, not silently.

``"category": "section.name"`` where Section has ``title`` reads None for every product: empty
categories, no error. :func:`field_problems` follows every path relation by relation
(ForeignKey, OneToOne, reverse one-to-one) and names the fields that exist where it fails;
:func:`url_problems` checks that URL patterns exist and take the arguments given (it needs
the URLconf, so only the system check calls it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.urls import get_resolver, get_urlconf

from recommender.catalog.field_specs import (
    FIELD_ROLES,
    FieldFormError,
    FieldSpec,
    Paths,
    Scaled,
    UrlPattern,
    parse_field,
    setting_name,
)

__all__ = ["FieldProblem", "field_problems", "parse_fields", "path_problem", "related_paths", "url_problems"]


@dataclass(frozen=True)
class FieldProblem:
    """One misconfigured FIELDS entry: what is wrong, and the fix."""

    message: str
    hint: str


def parse_fields(fields: dict[str, Any]) -> tuple[dict[str, FieldSpec | None], list[FieldProblem]]:
    """Specs of every role, and the problems of entries that are not a known form."""
    specs: dict[str, FieldSpec | None] = {}
    problems = []
    unknown = sorted(set(fields) - set(FIELD_ROLES))
    if unknown:
        problems.append(
            FieldProblem(
                f'RECOMMENDER["FIELDS"] has unknown keys {unknown}; allowed: {list(FIELD_ROLES)}.',
                hint="Remove them, or subclass recommender.catalog.CatalogAdapter (docs/catalog_adapter.md).",
            )
        )
    for role in FIELD_ROLES:
        try:
            specs[role] = parse_field(role, fields.get(role))
        except FieldFormError as exc:
            problems.append(FieldProblem(str(exc), exc.hint))
    return specs, problems


def field_problems(model: type[models.Model], specs: dict[str, FieldSpec | None]) -> list[FieldProblem]:
    """Problems of the attribute paths in ``specs`` on ``model``."""
    problems = []
    for role, spec in specs.items():
        for path in _paths_of(spec):
            problem = path_problem(model, role, path)
            if problem:
                problems.append(problem)
    return problems


def _paths_of(spec: FieldSpec | None) -> list[str]:
    if isinstance(spec, Paths):
        return list(spec.paths)
    if isinstance(spec, Scaled):
        return [spec.path]
    if isinstance(spec, UrlPattern) and spec.kwargs:
        return [path for _, path in spec.kwargs]
    return []  # None, or a Call: a function's body cannot be checked


def path_problem(model: type[models.Model], role: str, path: str) -> FieldProblem | None:
    """Follow ``path`` on ``model``; None when every step exists and holds one value."""
    current = model
    parts = path.split(".")
    for i, part in enumerate(parts):
        where = f"{setting_name(role)} = {path!r}: "
        field = _field_named(current, part)
        if field is None:
            if part and hasattr(current, part):
                return None  # a property or method: what it returns is not known before it runs
            return FieldProblem(
                f"{where}{current._meta.label} has no field or attribute {part!r}.",
                hint=f"{current._meta.label} has: {', '.join(_usable_names(current))}. Name one of them, "
                "or set the role to None.",
            )
        if field.many_to_many or field.one_to_many:
            return FieldProblem(
                f"{where}{part!r} on {current._meta.label} is a many relation (several values per product).",
                hint="Follow ForeignKey or OneToOne relations only, or use a callable that picks or joins "
                f"the values: {setting_name(role)} = lambda product: ...",
            )
        rest = parts[i + 1 :]
        by_id = field.concrete and part == field.attname != field.name  # "section_id": the key itself
        if field.is_relation and not by_id and field.related_model is not None:
            current = field.related_model  # ForeignKey, OneToOne, reverse one-to-one
            continue
        if not rest or field.is_relation:  # a leaf value, or a generic relation (not checkable)
            return None
        if isinstance(field, models.FileField) and hasattr(field.attr_class, rest[0]):
            return None  # "picture.url", "picture.path"
        return FieldProblem(
            f"{where}{part!r} on {current._meta.label} holds a value ({type(field).__name__}), not a relation: "
            f"it has no {rest[0]!r}.",
            hint=f"Use {'.'.join(parts[: i + 1])!r}, or a callable: {setting_name(role)} = lambda product: ...",
        )
    return None


def related_paths(model: type[models.Model], specs: dict[str, FieldSpec | None]) -> list[str]:
    """``select_related()`` lookups for the single-valued relations the paths follow ("section")."""
    lookups = set()
    for spec in specs.values():
        for path in _paths_of(spec):
            current, steps = model, []
            for part in path.split("."):
                field = _field_named(current, part)
                if field is None or not field.is_relation or field.related_model is None:
                    break
                if field.many_to_many or field.one_to_many or (field.concrete and part != field.name):
                    break
                steps.append(part if field.concrete else field.name)
                lookups.add("__".join(steps))
                current = field.related_model
    return sorted(lookups)


def _field_named(model: type[models.Model], name: str) -> Any:
    """The field, forward or reverse, read by ``getattr(product, name)``; None when there is none."""
    for field in model._meta.get_fields():
        if field.auto_created and not field.concrete:  # reverse relations go by their accessor
            if field.get_accessor_name() == name:
                return field
        elif name in (field.name, getattr(field, "attname", None)):
            return field
    return None


def _usable_names(model: type[models.Model]) -> list[str]:
    """Names a path may use on ``model``: its fields and single-valued relations, both ways."""
    names = []
    for field in model._meta.get_fields():
        if field.many_to_many or field.one_to_many:
            continue
        names.append(field.get_accessor_name() if field.auto_created and not field.concrete else field.name)
    return names


def url_problems(specs: dict[str, FieldSpec | None]) -> list[FieldProblem]:
    """Problems of the ``url`` role: a pattern name that does not exist or takes other arguments."""
    spec = specs.get("url")
    if not isinstance(spec, UrlPattern):
        return []
    where = f"{setting_name('url')} = {spec.name!r}: "
    signatures = url_signatures(spec.name)
    if signatures is None:
        return [
            FieldProblem(
                f"{where}no URL pattern has this name.",
                hint='Name a pattern of your URLconf as "namespace:name" (as for reverse()), or use a callable: '
                f"{setting_name('url')} = lambda product: ...",
            )
        ]
    if spec.kwargs is None:
        if any(len(params) == 1 for params, _ in signatures):
            return []
        return [
            FieldProblem(
                f"{where}the pattern takes {_describe(signatures)}, not one argument: the product's primary key.",
                hint=f"Map each argument to a field path: {setting_name('url')} = "
                f'("{spec.name}", {{{", ".join(repr(p) + ": ..." for p in sorted(signatures[0][0]))}}}).',
            )
        ]
    given = {kwarg for kwarg, _ in spec.kwargs}
    if any(not (given ^ params) - defaults for params, defaults in signatures):
        return []
    return [
        FieldProblem(
            f"{where}the pattern takes {_describe(signatures)}; the setting gives {sorted(given)}.",
            hint="Give exactly the pattern's arguments, each mapped to a field path of the product.",
        )
    ]


def _describe(signatures: Iterable[tuple[set[str], set[str]]]) -> str:
    return " or ".join(str(sorted(params)) if params else "no arguments" for params, _ in signatures)


def url_signatures(name: str) -> list[tuple[set[str], set[str]]] | None:
    """(parameters, defaults) of each pattern ``name`` reverses to; None when none has that name.

    Walks the URLconf the way reverse() does (namespaces, then the name's possibilities)."""
    resolver = get_resolver(get_urlconf())
    *namespaces, view = name.split(":")
    for namespace in namespaces:
        instances = resolver.app_dict.get(namespace, [])
        if namespace not in resolver.namespace_dict and instances:
            namespace = instances[0]  # an application namespace: its first (default) instance
        if namespace not in resolver.namespace_dict:
            return None
        _, resolver = resolver.namespace_dict[namespace]
    possibilities = resolver.reverse_dict.getlist(view)
    if not possibilities:
        return None
    return [
        (set(params), set(defaults))
        for possibility, _pattern, defaults, _converters in possibilities
        for _result, params in possibility
    ]
