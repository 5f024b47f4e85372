"""The search log: a search event per search, a ``SearchQuery`` row per text search; clicks and
purchases mark the row.

    log_search("Maroon  pullover", 17, request=request)   # Event(type="search", strategy="text") + SearchQuery
    log_search("", 12, kind="image", request=request)     # Event(type="search", strategy="image", query="")
    mark_outcome(event)                                   # a click/purchase marks the latest search
    count_search_impressions(results)                     # a shown page: impressions of slot "search"

Every search records an event with its result count; the event's ``strategy`` says how the
shopper searched (``"text"`` or ``"image"``). A search by image has no words: its event's query
is empty, and it writes no ``SearchQuery`` row (that log is of words: suggestions, top and
zero-result queries), but it still counts as the session's latest search, so a click after it is
not credited to an earlier text search.

The log row keeps the query as typed (control characters and NUL removed, NFKC), its normalised
form, a one-way hash of the shopper's anonymous session id (never the raw session; the hash of
``recommender.privacy``, so exports and deletions find the rows) and a salted hash of the
client (``recommender.clients``: the account, else the network address; never the raw address),
by which suggestions count distinct shoppers: sessions are free to make, accounts and addresses
are not. A search without a known client gets a blank client hash and never counts.

Searching never creates a session: a shopper who has none (a first visit, a script without
cookies) gets a log row but no session, and so no search event. A click within
``CLICK_WINDOW`` or a purchase within ``PURCHASE_WINDOW`` of a search by the same session marks
that session's most recent search before it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

from recommender.clients import client_address, client_hash
from recommender.events import MAX_RESULT_COUNT, SESSION_ID_KEY, EventError, record_event, records_events, shopper
from recommender.models import Event, EventType, SearchQuery, SlotStat
from recommender.search.normalize import clean_query, normalize_query
from recommender.slots import SEARCH_SLOT, SEARCH_STRATEGY

__all__ = [
    "IMAGE",
    "SEARCH_KINDS",
    "TEXT",
    "count_search_impressions",
    "live_session",
    "log_search",
    "mark_outcome",
    "session_hash",
]

logger = logging.getLogger(__name__)

# A click comes while the results are on screen; a purchase may follow a browse of a day.
CLICK_WINDOW = timedelta(minutes=30)
PURCHASE_WINDOW = timedelta(days=1)
LOG_QUERY_LENGTH = 500
# How a shopper searched, stored in the search event's ``strategy``.
TEXT, IMAGE = "text", "image"
SEARCH_KINDS = (TEXT, IMAGE)


def session_hash(session_key: str) -> str:
    """The log's one-way hash of a session id ('' without one): ``recommender.privacy``'s, so a
    data-subject export or deletion finds the rows of the shopper's sessions."""
    from recommender.privacy import session_hash as privacy_hash

    return privacy_hash(session_key)


def live_session(request: Any) -> bool:
    """Whether the request has a Django session already (searching must not create one).

    A cookie-less client has none; nor has one sending an unknown or expired session cookie
    (loading it clears the key). A session changed earlier in this request is saved anyway.
    """
    session = getattr(request, "session", None)
    if session is None:
        return False
    if session.get(SESSION_ID_KEY):  # also loads it: an unknown cookie leaves no key
        return True
    return session.session_key is not None or session.modified


def _client(request: Any, user: AbstractBaseUser | None, address: str) -> str:
    """The salted client hash suggestions count by: the account, else the network address."""
    if user is not None:
        return client_hash(user_id=user.pk)
    if not address and request is not None:
        address = client_address(request)
    return client_hash(address=address)


def log_search(
    query: str,
    result_count: int,
    *,
    kind: str = TEXT,
    request: Any = None,
    user: AbstractBaseUser | None = None,
    session_key: str = "",
    address: str = "",
) -> SearchQuery | None:
    """Record one search: an Event (profiles, analytics) and, for text, a SearchQuery row (suggestions).

    ``kind="image"`` records a search by image (``query`` is ignored): the event only, with an
    empty query. The event needs a user or an existing session (none is created); the log row
    counts the client by ``user``, else ``address`` (a network address, for callers without a
    request), else the request's address. Returns the log row, or None when none was written
    (also for a cross-site ``request``, which records nothing).
    """
    if kind not in SEARCH_KINDS:
        raise ValueError(f"Unknown search kind {kind!r}; expected one of {', '.join(SEARCH_KINDS)}.")
    if not records_events(request):  # another site caused the search: not the shopper's doing
        return None
    if request is not None and user is None and not session_key:
        user, session_key = shopper(request, create=live_session(request))
    if kind == IMAGE:
        _record_image_search(result_count, user, session_key)
        return None
    normalized = normalize_query(query, LOG_QUERY_LENGTH)
    if not normalized:
        return None
    typed = clean_query(query, LOG_QUERY_LENGTH)
    if user is not None or session_key:
        try:
            record_event(
                "search", user=user, session_key=session_key, query=typed, result_count=result_count, strategy=TEXT
            )
        except EventError as exc:  # the search itself succeeded: keep the log row
            logger.warning("Search event not recorded: %s", exc)
    return SearchQuery.objects.create(
        query=typed,
        normalized=normalized,
        session_hash=session_hash(session_key),
        client_hash=_client(request, user, address),
        result_count=max(0, int(result_count)),
    )


def count_search_impressions(results: Any) -> None:
    """Count a page of results as impressions of the "search" slot, whose clicks they cap."""
    if len(results):
        SlotStat.bump(SEARCH_SLOT, SEARCH_STRATEGY, impressions=len(results))


def _record_image_search(result_count: int, user: AbstractBaseUser | None, session_key: str) -> Event | None:
    """The event of a search by image: no words, so nothing for the profile to learn."""
    if user is None and not session_key:
        return None
    try:
        event = record_event(
            "search",
            user=user,
            session_key=session_key,
            strategy=IMAGE,
            result_count=min(max(0, int(result_count)), MAX_RESULT_COUNT),
            update_profile=False,
        )
    except EventError as exc:  # the search itself succeeded
        logger.warning("Image search event not recorded: %s", exc)
        return None
    Event.objects.filter(pk=event.pk).update(processed=True)  # nothing pending for the profile catch-up
    return event


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
        .values_list("pk", "created_at")
        .first()
    )
    if latest is None:
        return 0
    pk, searched_at = latest
    by_image_since = Event.objects.filter(
        type=EventType.SEARCH,
        strategy=IMAGE,
        session_key=event.session_key,
        created_at__gt=searched_at,
        created_at__lte=event.created_at,
    )
    if by_image_since.exists():  # the latest search was by image: nothing typed to credit
        return 0
    field = "clicked" if event.type == EventType.CLICK else "purchased"
    return SearchQuery.objects.filter(pk=pk).update(**{field: True})
