"""Compiled list statements, kept per query shape: Django compiles a full-text queryset in 4-7 ms.

    template = compiled(("fulltext", fulltext_shape(parsed), filters, version.pk, k, config),
                        lambda: fulltext_template(parsed, filters.rows(version), k))
    statement = fill_template(template, parsed)     # this query's words in the shape's SQL

A statement (SQL and parameters) is a pure function of its key: the parsed words, the filters,
the version, ``k`` and the settings it reads. It holds no data, so catalogue changes never make
it stale; the cache is bounded (least recently used out) and per process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

__all__ = ["MAX_STATEMENTS", "clear", "compiled"]

# A few hundred distinct queries cover most of a shop's traffic; each entry is a few kB of SQL.
MAX_STATEMENTS = 512

T = TypeVar("T")
_cache: OrderedDict[Hashable, object] = OrderedDict()
_lock = threading.Lock()


def compiled(key: Hashable, build: Callable[[], T]) -> T:
    """The statement under ``key``, built (outside the lock) on a miss."""
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]  # type: ignore[return-value]
    value = build()
    with _lock:
        _cache[key] = value
        while len(_cache) > MAX_STATEMENTS:
            _cache.popitem(last=False)
    return value


def clear() -> None:
    """Forget every statement (settings changed)."""
    with _lock:
        _cache.clear()
