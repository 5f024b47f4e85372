"""What a page needs to know about the shopper, read in one round trip: may they be personalised,
what did they buy, and what did they do last.

Each product slot asks the first two (opted-out shoppers are never personalised, not even by
leaving out their purchases; the others' purchases are left out of product slots); "for you"
(its reasons) and "recently viewed" read the shopper's newest product events. As ORM queries that
was three round trips per page; here they are one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from recommender.models import Event, EventType, PersonalisationOptOut

# The product events that tell what a shopper did (views, clicks, carts, purchases), and how many of
# the newest are read: "recently viewed" looks at up to 5 x 40 of them, reasons at 5 x 20.
RECENT_TYPES = (EventType.VIEW, EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE)
RECENT_EVENTS = 200


@dataclass(frozen=True)
class ShopperFacts:
    personalised: bool
    # Keys of the products the shopper bought, sorted; empty when they may not be personalised.
    bought: tuple[str, ...]
    # (product key, type) of the newest RECENT_EVENTS product events of RECENT_TYPES, newest
    # first; empty when they may not be personalised. ``recent_complete``: that is all there are.
    recent: tuple[tuple[str, str], ...] = ()
    recent_complete: bool = True

    def newest(self, types: tuple[str, ...], rows: int) -> list[tuple[str, str]] | None:
        """The newest ``rows`` product events of ``types`` (a subset of RECENT_TYPES), as the
        events table would answer, or None when the events read are not enough to tell."""
        if not set(types) <= set(RECENT_TYPES):
            return None
        found = [row for row in self.recent if row[1] in types][:rows]
        return found if len(found) == rows or self.recent_complete else None


def _facts_statement(user_id: Any, session_key: str) -> tuple[str, list[Any]]:
    """The one statement of :func:`shopper_facts`, written out: compiling its three querysets with
    the ORM cost more than running it. The owner conditions are ``Event.objects.of_shopper``'s."""
    event, opt_out = Event._meta.db_table, PersonalisationOptOut._meta.db_table
    if user_id is not None:
        owner, owner_params = "user_id = %s", [user_id]
        opted_sql, opted_params = f"EXISTS(SELECT 1 FROM {opt_out} WHERE user_id = %s)", [user_id]
    else:  # anonymous shoppers cannot opt out: only a known user can (recommender.privacy)
        owner, owner_params = "user_id IS NULL AND session_key = %s", [session_key]
        opted_sql, opted_params = "false", []
    sql = (
        f"SELECT {opted_sql}, "
        f"ARRAY(SELECT product_key FROM {event} WHERE {owner} AND type = %s), "
        f"ARRAY(SELECT ARRAY[product_key, type] FROM {event} WHERE {owner} AND type = ANY(%s) "
        "AND product_key <> '' ORDER BY created_at DESC, id DESC LIMIT %s)"
    )
    params = [
        *opted_params,
        *owner_params,
        EventType.PURCHASE.value,
        *owner_params,
        [str(t) for t in RECENT_TYPES],
        RECENT_EVENTS,
    ]
    return sql, params


def shopper_facts(user_id: Any, session_key: str) -> ShopperFacts:
    """Opt-out, purchases and newest product events of a user (by primary key) or an anonymous
    session, in one statement."""
    if user_id is None and not session_key:
        return ShopperFacts(personalised=True, bought=())
    with connection.cursor() as cursor:
        cursor.execute(*_facts_statement(user_id, session_key))
        opted_out, bought, rows = cursor.fetchone()
    if opted_out:
        return ShopperFacts(personalised=False, bought=())
    rows = tuple((key, type_) for key, type_ in rows or ())
    return ShopperFacts(
        personalised=True,
        bought=tuple(sorted(set(bought or ()))),
        recent=rows,
        recent_complete=len(rows) < RECENT_EVENTS,
    )
