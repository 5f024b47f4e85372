"""The flat public API: ``from recommender import …`` for everything README's Python API uses."""

from __future__ import annotations

import subprocess
import sys

import pytest

import recommender


@pytest.mark.parametrize("name", [n for n in recommender.__all__ if n != "__version__"])
def test_every_exported_name_resolves(name):
    assert getattr(recommender, name) is not None


def test_search_products_is_the_search_function_and_the_subpackage_keeps_its_name():
    from importlib import import_module

    from recommender.search.engine import search

    assert recommender.search_products is search
    import_module("recommender.search")
    assert recommender.search.__name__ == "recommender.search"  # the subpackage, not shadowed


def test_all_lists_exactly_the_lazy_exports():
    assert sorted(recommender.__all__) == sorted(["__version__", *recommender._EXPORTS])


def test_unknown_names_are_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        recommender.nope  # noqa: B018


def test_importing_the_package_imports_nothing_else():
    """Django imports every app package at start-up: the facade must stay free."""
    code = (
        "import sys, recommender; "
        "print(sorted(m for m in sys.modules if m.startswith(('recommender.', 'torch', 'numpy', 'django.db'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
