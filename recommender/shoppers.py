"""What a page needs to know about the shopper, read in one round trip: may they be personalised,
what did they buy, and what did they do last.

Each product slot asks the first two (opted-out shoppers are never personalised, not even by
leaving out their purchases; the others' purchases are left out of product slots); "for you"
(its reasons) and "recently viewed" read the shopper's newest product events. As ORM queries that
was three round trips per page; here they are one statement built from the same querysets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import F, Func

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


def shopper_facts(user_id: Any, session_key: str) -> ShopperFacts:
    """Opt-out, purchases and newest product events of a user (by primary key) or an anonymous
    session, in one statement."""
    if user_id is None and not session_key:
        return ShopperFacts(personalised=True, bought=())
    events = Event.objects.of_shopper(user_id, session_key)
    sql, params = events.filter(type=EventType.PURCHASE).values("product_key").query.sql_with_params()
    recent = (
        events.filter(type__in=RECENT_TYPES)
        .exclude(product_key="")
        .newest_first()
        .annotate(pair=Func(F("product_key"), F("type"), function="ARRAY", template="%(function)s[%(expressions)s]"))
        .values("pair")[:RECENT_EVENTS]
    )
    recent_sql, recent_params = recent.query.sql_with_params()
    if user_id is None:  # anonymous shoppers cannot opt out: only a known user can (recommender.privacy)
        opted_sql, opted_params = "false", ()
    else:
        opt_outs = PersonalisationOptOut.objects.filter(user_id=user_id).values("pk")
        opted_sql, opted_params = opt_outs.query.sql_with_params()
        opted_sql = f"EXISTS({opted_sql})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {opted_sql}, ARRAY({sql}), ARRAY({recent_sql})", [*opted_params, *params, *recent_params]
        )
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
