"""Recording what shoppers do: one function every path (Python, API, beacon, tags) goes through.

    record_event("view", request=request, product_key="42")
    record_event("click", user=user, product_key="42", slot="product", strategy="similar")
    record_event("search", session_key=key, query="black dress", result_count=17)

Events are written synchronously to Postgres (nothing is lost when the broker is down); the
profile update is queued after commit and caught up by beat if the broker could not take it.
Anonymous shoppers are identified by a stable id kept in their Django session, which survives
the session-key rotation at login, so their history merges into the user (see ``merge_session``).

Requests that the browser marks ``Sec-Fetch-Site: cross-site`` (a link, form or redirect on
another site; ``SameSite=Lax`` session cookies travel with top-level navigations) record nothing:
``record_event(request=...)`` returns None and stores nothing, unless the host sets
``RECOMMENDER["RECORD_CROSS_SITE_EVENTS"] = True`` (see :func:`records_events`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext

from recommender.catalog import get_adapter
from recommender.conf import app_settings
from recommender.memo import forget
from recommender.models import Event, EventType, SlotStat
from recommender.signals import profile_stale
from recommender.slots import is_known_slot

logger = logging.getLogger(__name__)

SESSION_ID_KEY = "recommender_sid"
MAX_QUERY_LENGTH = 500
MAX_QUANTITY = 10_000
MAX_RESULT_COUNT = 2**31 - 1  # the column is a Postgres integer
PRODUCT_EVENTS = {EventType.VIEW, EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE}


class EventError(ValueError):
    """An event that cannot be recorded; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class EventBatchError(ValueError):
    """Some events of a batch are invalid; nothing of the batch was stored.

    ``errors`` maps each bad event's position (from 0) to its :class:`EventError`.
    """

    def __init__(self, errors: dict[int, EventError]) -> None:
        super().__init__(
            "; ".join(
                gettext("event %(number)d: %(field)s: %(message)s")
                % {"number": i + 1, "field": e.field, "message": e.message}
                for i, e in sorted(errors.items())
            )
        )
        self.errors = errors


def shopper_session_id(request: Any, *, create: bool = True) -> str:
    """The anonymous shopper id stored in the Django session ('' when there is no session)."""
    session = getattr(request, "session", None)
    if session is None:
        return ""
    sid = session.get(SESSION_ID_KEY, "")
    if not sid and create:
        sid = uuid.uuid4().hex
        session[SESSION_ID_KEY] = sid
    return sid


def shopper(request: Any, *, create: bool = True) -> tuple[AbstractBaseUser | None, str]:
    """(user or None, anonymous session id) of a request.

    Reads pass ``create=False``: showing recommendations to a crawler must not create a session.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user, shopper_session_id(request, create=create)
    return None, shopper_session_id(request, create=create)


def is_cross_site(request: Any) -> bool:
    """Whether the browser says another site caused this request (``Sec-Fetch-Site: cross-site``).

    Browsers set the header themselves (scripts cannot); requests without it (older browsers,
    server-to-server calls) count as same-site.
    """
    meta = getattr(request, "META", None) or {}
    return str(meta.get("HTTP_SEC_FETCH_SITE", "")).strip().lower() == "cross-site"


def records_events(request: Any) -> bool:
    """Whether a request may write to the shopper's history (events, search log, profile).

    Not when another site caused it: a link elsewhere must not put products or searches into a
    logged-in shopper's profile (nor into trending, nor the search log's suggestions).
    """
    return request is None or app_settings.RECORD_CROSS_SITE_EVENTS or not is_cross_site(request)


def clean_text(value: Any, limit: int) -> str:
    """Whitespace-normalised text without NUL characters (Postgres text cannot hold them)."""
    return " ".join(str(value or "").replace("\x00", " ").split())[:limit]


def record_event(
    type: str,
    *,
    request: Any = None,
    user: AbstractBaseUser | None = None,
    session_key: str = "",
    product_key: str = "",
    query: str = "",
    result_count: int | None = None,
    slot: str = "",
    strategy: str = "",
    quantity: int = 1,
    created_at: datetime | None = None,
    check_product: bool = True,
    update_profile: bool = True,
    defer_profile: bool = False,
) -> Event | None:
    """Validate and store one event; raises :class:`EventError` naming the bad field.

    Returns None, storing nothing, for a ``request`` another site caused (:func:`records_events`).
    ``defer_profile``: the profile update never runs inside this request, even without a broker
    (see ``signals.profile_stale``): a page view must not wait for it.
    """
    if not records_events(request):
        logger.debug("Cross-site %s event not recorded.", type)
        return None
    if request is not None and user is None and not session_key:
        user, session_key = shopper(request)
    event = build_event(
        type,
        user=user,
        session_key=session_key,
        product_key=product_key,
        query=query,
        result_count=result_count,
        slot=slot,
        strategy=strategy,
        quantity=quantity,
        created_at=created_at,
        product_exists=_product_exists if check_product else None,
    )
    event.save(force_insert=True)
    _after_stored([event], user, session_key, update_profile, request=request, defer_profile=defer_profile)
    return event


def record_events(
    events: Sequence[Mapping[str, Any]],
    *,
    request: Any = None,
    user: AbstractBaseUser | None = None,
    session_key: str = "",
    check_product: bool = True,
    update_profile: bool = True,
) -> list[Event] | None:
    """Validate a batch of one shopper's events and store all of them or none (one INSERT).

    Each item takes :func:`record_event`'s event keywords (``type``, ``product_key``, ``query``,
    ``result_count``, ``slot``, ``strategy``, ``quantity``, ``created_at``) and is validated the
    same way. Raises :class:`EventError` (field ``events``) for an empty or too large batch
    (``RECOMMENDER["EVENTS_MAX_BATCH"]``) and :class:`EventBatchError` with every bad event's
    error; then nothing is stored. Returns None, storing nothing, for a cross-site ``request``.
    """
    if not records_events(request):
        logger.debug("Cross-site batch of %d events not recorded.", len(events))
        return None
    if request is not None and user is None and not session_key:
        user, session_key = shopper(request)
    check_batch_size(len(events))
    built, errors = build_events(events, user=user, session_key=session_key, check_product=check_product)
    if errors:
        raise EventBatchError(errors)
    return store_events(built, user=user, session_key=session_key, update_profile=update_profile, request=request)


def check_batch_size(count: int) -> None:
    """Refuse an empty batch or one over ``EVENTS_MAX_BATCH`` (bounded work per request)."""
    limit = int(app_settings.EVENTS_MAX_BATCH)
    if count < 1:
        raise EventError("events", gettext("A batch needs at least one event."))
    if count > limit:
        raise EventError(
            "events", gettext("At most %(limit)d events per request; got %(count)d.") % {"limit": limit, "count": count}
        )


def build_events(
    events: Sequence[Mapping[str, Any]],
    *,
    user: AbstractBaseUser | None,
    session_key: str,
    check_product: bool = True,
) -> tuple[list[Event], dict[int, EventError]]:
    """Unsaved events of a batch and the errors of the bad ones by position (products looked up
    in one query)."""
    exists = _existing_products([str(e.get("product_key") or "").strip() for e in events]) if check_product else None
    built: list[Event] = []
    errors: dict[int, EventError] = {}
    for index, item in enumerate(events):
        try:
            built.append(
                build_event(
                    **item,
                    user=user,
                    session_key=session_key,
                    product_exists=exists.__contains__ if exists is not None else None,
                )
            )
        except EventError as exc:
            errors[index] = exc
    return built, errors


def store_events(
    events: Sequence[Event],
    *,
    user: AbstractBaseUser | None,
    session_key: str,
    update_profile: bool = True,
    request: Any = None,
) -> list[Event]:
    """Insert validated events of one shopper in one statement and one transaction.

    ``post_save`` is sent for each (``bulk_create`` sends none), so receivers (search outcomes)
    see batched events as they see single ones; the profile update is queued once.
    """
    with transaction.atomic():
        stored = Event.objects.bulk_create(events)
        for event in stored:
            post_save.send(
                sender=Event, instance=event, created=True, update_fields=None, raw=False, using=event._state.db
            )
        _after_stored(stored, user, session_key, update_profile, request=request)
    return stored


def build_event(
    type: str,
    *,
    user: AbstractBaseUser | None,
    session_key: str,
    product_key: str = "",
    query: str = "",
    result_count: int | None = None,
    slot: str = "",
    strategy: str = "",
    quantity: int = 1,
    created_at: datetime | None = None,
    product_exists: Callable[[str], bool] | None = None,
) -> Event:
    """One validated, unsaved event; raises :class:`EventError` naming the bad field.

    ``product_exists`` checks the product of a product event (None: not checked).
    """
    if type not in EventType.values:
        raise EventError(
            "type",
            gettext("Unknown event type %(type)r; expected one of %(types)s.")
            % {"type": type, "types": ", ".join(EventType.values)},
        )
    if user is None and not session_key:
        raise EventError("session", gettext("An event needs a user or an anonymous session."))
    product_key = str(product_key or "").strip()
    if "\x00" in product_key or len(product_key) > 64:
        raise EventError("product_id", gettext("Unknown product %(key)r.") % {"key": product_key[:80]})
    if type in PRODUCT_EVENTS:
        if not product_key:
            raise EventError("product_id", gettext("A %(type)s event needs a product.") % {"type": type})
        if product_exists is not None and not product_exists(product_key):
            raise EventError("product_id", gettext("Unknown product %(key)r.") % {"key": product_key})
    slot, strategy = clean_text(slot, 64), clean_text(strategy, 64)
    if slot and not is_known_slot(slot):
        raise EventError(
            "slot",
            gettext(
                "Unknown slot %(slot)r: events may name the slots the shop shows (rendered by a template tag "
                'today or yesterday, the admin\'s default slots, "api", "search" or RECOMMENDER[\'SLOTS\']).'
            )
            % {"slot": slot},
        )
    query = clean_text(query, MAX_QUERY_LENGTH)
    if type == EventType.SEARCH and not query and strategy != "image":  # a photo search has no words
        raise EventError("query", gettext("A search event needs a query (or strategy 'image' for a search by image)."))
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise EventError("quantity", gettext("Quantity must be an integer from 1 to %(max)d.") % {"max": MAX_QUANTITY})
    if result_count is not None and (
        not isinstance(result_count, int) or isinstance(result_count, bool) or not 0 <= result_count <= MAX_RESULT_COUNT
    ):
        raise EventError(
            "result_count",
            gettext("result_count must be an integer from 0 to %(max)d.") % {"max": MAX_RESULT_COUNT},
        )
    return Event(
        type=type,
        user=user,
        session_key=clean_text(session_key, 64),
        product_key=product_key,
        query=query,
        result_count=result_count,
        slot=slot,
        strategy=strategy,
        quantity=quantity,
        created_at=created_at or timezone.now(),
    )


def _after_stored(
    events: Sequence[Event],
    user: AbstractBaseUser | None,
    session_key: str,
    update_profile: bool,
    *,
    request: Any = None,
    defer_profile: bool = False,
) -> None:
    """What follows stored events: click and conversion counts, the shopper's cache, one profile update."""
    purchases = [e for e in events if e.type == EventType.PURCHASE]
    clicked = _clicked_in_slots(purchases) if purchases else set()
    for event in events:
        if event.type == EventType.CLICK and event.slot:  # counted while the slot's impressions that day allow
            SlotStat.add_capped(timezone.localdate(event.created_at), event.slot, event.strategy or "unknown", "clicks")
        if event.type == EventType.PURCHASE and event.product_key in clicked:
            _count_conversion(event)
    _invalidate_shopper_cache(user, session_key)
    forget(request)  # what this request remembered of the shopper (recommender.memo) may be stale
    if update_profile and events:
        owner = (events[0].user_id, "" if events[0].user_id else events[0].session_key)
        transaction.on_commit(lambda: _queue_profile_update(*owner, deferred=defer_profile))


def _existing_products(keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` name a product, in one query (malformed keys name none)."""
    adapter = get_adapter()
    by_pk: dict[Any, list[str]] = {}
    for key in set(keys):
        if not key or "\x00" in key or len(key) > 64:
            continue
        try:
            by_pk.setdefault(adapter.to_pk(key), []).append(key)
        except (ValidationError, ValueError, TypeError):
            continue
    if not by_pk:
        return set()
    found = adapter.get_queryset().filter(pk__in=list(by_pk)).values_list("pk", flat=True)
    return {key for pk in found for key in by_pk.get(pk, [])}


def _product_exists(key: str) -> bool:
    adapter = get_adapter()
    try:
        pk = adapter.to_pk(key)
    except (ValidationError, ValueError, TypeError):
        return False
    return adapter.get_queryset().filter(pk=pk).exists()


def _clicked_in_slots(purchases: Sequence[Event]) -> set[str]:
    """Products the purchasing shopper clicked in a slot within a day before the earliest purchase
    (one query for a batch; only those purchases can be conversions)."""
    first = min(purchases, key=lambda e: e.created_at)
    owner = {"user": first.user} if first.user_id else {"session_key": first.session_key}
    since = first.created_at - timezone.timedelta(days=1)
    clicks = Event.objects.filter(type=EventType.CLICK, created_at__gte=since, **owner).exclude(slot="")
    return set(clicks.values_list("product_key", flat=True).distinct())


def _count_conversion(purchase: Event) -> None:
    """A purchase of a product the same shopper clicked in a slot within a day is a conversion."""
    since = purchase.created_at - timezone.timedelta(days=1)
    owner = {"user": purchase.user} if purchase.user_id else {"session_key": purchase.session_key}
    click = (
        Event.objects.filter(type=EventType.CLICK, product_key=purchase.product_key, created_at__gte=since, **owner)
        .exclude(slot="")
        .order_by("-created_at")
        .first()
    )
    if click is not None:  # counted on the click's row, while its clicks allow
        SlotStat.add_capped(
            timezone.localdate(click.created_at), click.slot, click.strategy or "unknown", "conversions"
        )


def _invalidate_shopper_cache(user: AbstractBaseUser | None, session_key: str) -> None:
    from recommender.cache import bump_shopper_generation

    bump_shopper_generation(user.pk if user is not None else None, session_key)


def _queue_profile_update(user_id: Any, session_key: str, *, deferred: bool = False) -> None:
    """Announce that this shopper's profile is stale (the receiver queues its update)."""
    profile_stale.send(sender=Event, user_id=user_id, session_key=session_key, deferred=deferred)


def merge_session(session_key: str, user: AbstractBaseUser) -> int:
    """Move an anonymous session's events to ``user`` (at login); returns how many moved."""
    if not session_key:
        return 0
    from recommender.models import Profile

    moved = Event.objects.filter(session_key=session_key, user__isnull=True).update(user=user)
    Profile.objects.filter(session_key=session_key, user__isnull=True).delete()
    if moved:
        _invalidate_shopper_cache(user, session_key)
        transaction.on_commit(lambda: _queue_profile_update(user.pk, ""))
    return moved
