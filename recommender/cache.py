"""Result caching with cheap invalidation by generation counters.

Cache keys embed a *generation*: one per shopper (bumped by each of their events), one global
(bumped when rules, settings or the active model change) and one for the catalogue (bumped when
a product's stock, price, sellability, category or title changes in the stored rows). Bumping a
counter makes the old entries unreachable at once; they then expire on their own. No key
scanning, any cache backend. ``cached(..., revalidate=...)`` also re-checks a hit before it is
served, for what must never wait for a counter (a product sold out a moment ago).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.utils import translation

T = TypeVar("T")
PREFIX = "recommender"
GLOBAL_KEY = f"{PREFIX}:gen:global"
CATALOGUE_KEY = f"{PREFIX}:gen:catalogue"


def _shopper_key(user_id: Any, session_key: str) -> str:
    if user_id is not None:
        return f"{PREFIX}:gen:u:{user_id}"
    # Hashed: a session id is client-controlled text, and memcached refuses spaces and controls.
    return f"{PREFIX}:gen:s:{hashlib.sha1(session_key.encode('utf-8', 'replace')).hexdigest()}"


def _generation(key: str) -> int:
    value = cache.get(key)
    if value is None:
        cache.add(key, 1, None)
        value = cache.get(key) or 1
    return int(value)


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # not there yet (or evicted): any fresh value differs from cached ones
        cache.set(key, 2, None)


def shopper_generation(user_id: Any, session_key: str) -> int:
    return _generation(_shopper_key(user_id, session_key))


def bump_shopper_generation(user_id: Any, session_key: str) -> None:
    """Forget a shopper's cached personal results (after each of their events)."""
    if user_id is not None:
        _bump(_shopper_key(user_id, ""))
    if session_key:
        _bump(_shopper_key(None, session_key))


def global_generation() -> int:
    return _generation(GLOBAL_KEY)


def bump_global_generation() -> None:
    """Forget every cached result (rules, settings or the active model changed)."""
    _bump(GLOBAL_KEY)


def catalogue_generation() -> int:
    return _generation(CATALOGUE_KEY)


def bump_catalogue_generation() -> None:
    """Forget every cached result (a product's stock, price, category or sellability changed)."""
    _bump(CATALOGUE_KEY)


def cached(parts: tuple, compute: Callable[[], T], timeout: int, *, revalidate: Callable[[T], T] | None = None) -> T:
    """``compute()`` cached under a key made of ``parts`` (no cache when timeout is 0).

    ``revalidate`` is applied to a value read from the cache (never to a fresh one): what it
    returns is served, the stored entry stays as it is.
    """
    if timeout <= 0:
        return compute()
    # The active language too: results carry reasons in words ("Because you viewed …").
    raw = "|".join(str(p) for p in (*parts, translation.get_language()))
    key = f"{PREFIX}:res:{hashlib.sha1(raw.encode()).hexdigest()}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout)
    elif revalidate is not None:
        value = revalidate(value)
    return value
