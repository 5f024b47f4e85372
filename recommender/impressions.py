"""A page's slot impressions, written in one statement when the page is done.

Each rendered slot counts its impressions (``SlotStat``). Written as each slot renders, a product
page with four slots paid four upserts. With :class:`recommender.middleware.PageImpressionsMiddleware`
installed, a request collects them and the middleware writes them all in one statement after the
view returned its response, before the response leaves the server: a click, which the shopper can
only make on the delivered page, always finds its slot's impressions. A page that failed (a 5xx
response) shows nothing and counts nothing. Without the middleware, or without a request (the
REST API, Python calls), each slot writes at once, as before.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from recommender.models import SlotStat

logger = logging.getLogger(__name__)
ATTR = "_recommender_impressions"


def collect_impressions(request: Any) -> None:
    """From now on, ``count_impressions`` on ``request`` adds to the page's batch."""
    setattr(request, ATTR, Counter())


def count_impressions(request: Any, slot: str, strategy: str, impressions: int) -> None:
    """Count ``impressions`` of (slot, strategy): into the request's batch when it collects, else now."""
    batch = getattr(request, ATTR, None) if request is not None else None
    if batch is None:
        SlotStat.bump(slot, strategy, impressions=impressions)
    else:
        batch[(slot, strategy)] += impressions


def write_impressions(request: Any) -> int:
    """Write the request's batch in one statement and stop collecting; returns the impressions written.

    Slots rendered after this (a streamed response) write at once again, so none is lost.
    """
    batch = getattr(request, ATTR, None)
    if batch is None:
        return 0
    setattr(request, ATTR, None)
    SlotStat.bump_impressions(batch)
    return sum(batch.values())


def drop_impressions(request: Any) -> None:
    """Forget the request's batch (its page failed and was not shown) and stop collecting."""
    setattr(request, ATTR, None)
