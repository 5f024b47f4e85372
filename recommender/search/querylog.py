"""The search log: a search event and a ``SearchQuery`` row per search; clicks and purchases mark it.

    log_search("Maroon  pullover", 17, request=request)   # Event(type="search") + SearchQuery
    mark_outcome(event)                                   # a click/purchase marks the latest search

The log row keeps the normalised query and a one-way hash of the shopper's anonymous session id
(never the user, never the raw session; the hash of ``recommender.privacy``, so exports and
deletions find the rows), which is all suggestions need to count distinct sessions; a search
without a session id gets a blank hash and never counts. A click within ``CLICK_WINDOW`` or a
purchase within ``PURCHASE_WINDOW`` of a search by the same session marks that session's most
recent search before it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

from recommender.events import EventError, record_event, shopper
from recommender.models import Event, EventType, SearchQuery
from recommender.search.normalize import normalize_query

__all__ = ["log_search", "mark_outcome", "session_hash"]

logger = logging.getLogger(__name__)

# A click comes while the results are on screen; a purchase may follow a browse of a day.
CLICK_WINDOW = timedelta(minutes=30)
PURCHASE_WINDOW = timedelta(days=1)
LOG_QUERY_LENGTH = 500


def session_hash(session_key: str) -> str:
    """The log's one-way hash of a session id ('' without one): ``recommender.privacy``'s, so a
    data-subject export or deletion finds the rows of the shopper's sessions."""
    from recommender.privacy import session_hash as privacy_hash

    return privacy_hash(session_key)


def log_search(
    query: str,
    result_count: int,
    *,
    request: Any = None,
    user: AbstractBaseUser | None = None,
    session_key: str = "",
) -> SearchQuery | None:
    """Record one search: an Event (profiles, analytics) and a SearchQuery row (suggestions)."""
    if request is not None and user is None and not session_key:
        user, session_key = shopper(request)  # like the event endpoint: gives the shopper an id
    normalized = normalize_query(query, LOG_QUERY_LENGTH)
    if not normalized:
        return None
    if user is not None or session_key:
        try:
            record_event("search", user=user, session_key=session_key, query=query, result_count=result_count)
        except EventError as exc:  # the search itself succeeded: keep the log row
            logger.warning("Search event not recorded: %s", exc)
    return SearchQuery.objects.create(
        query=" ".join(str(query).split())[:LOG_QUERY_LENGTH],
        normalized=normalized,
        session_hash=session_hash(session_key),
        result_count=max(0, int(result_count)),
    )


def mark_outcome(event: Event) -> int:
    """Mark the search that led to a click or purchase ``event``; returns how many rows changed (0/1)."""
    if event.type not in (EventType.CLICK, EventType.PURCHASE):
        return 0
    digest = session_hash(event.session_key)
    if not digest:
        return 0
    window = CLICK_WINDOW if event.type == EventType.CLICK else PURCHASE_WINDOW
    latest = (
        SearchQuery.objects.filter(
            session_hash=digest, created_at__lte=event.created_at, created_at__gte=event.created_at - window
        )
        .order_by("-created_at")
        .values_list("pk", flat=True)
        .first()
    )
    if latest is None:
        return 0
    field = "clicked" if event.type == EventType.CLICK else "purchased"
    return SearchQuery.objects.filter(pk=latest).update(**{field: True})
