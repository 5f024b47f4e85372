"""Facts every slot of a page asks for, read once per request.

    version = remembered(request, "version", serving_version)

A product page renders several slots; each needs the serving version, whether the shopper opted
out and what they bought. Without a memo each slot reads them again (three SQL round trips per
slot). The memo lives on the request object, so it dies with the request and never serves one
shopper's facts to another. ``forget(request)`` drops it when the request itself changes a fact
(an event it records: a purchase changes what the shopper bought). Without a request (Python
calls, tasks) nothing is remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
ATTR = "_recommender_memo"


def remembered(request: Any, name: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, computed once per ``request`` and ``name`` (every call without a request)."""
    if request is None:
        return compute()
    memo = getattr(request, ATTR, None)
    if memo is None:
        memo = {}
        setattr(request, ATTR, memo)
    if name not in memo:
        memo[name] = compute()
    return memo[name]


def forget(request: Any) -> None:
    """Drop what ``request`` remembered (it just recorded something that may change it)."""
    if request is not None and getattr(request, ATTR, None):
        setattr(request, ATTR, {})
