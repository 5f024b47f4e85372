"""What a page needs to know about the shopper, read in one round trip: may they be personalised,
and what did they buy.

Each product slot asks both (opted-out shoppers are never personalised, not even by leaving out
their purchases; the others' purchases are left out of product slots). As two ORM queries that
was two round trips per page; here they are one statement built from the same querysets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from recommender.models import Event, EventType, PersonalisationOptOut


@dataclass(frozen=True)
class ShopperFacts:
    personalised: bool
    # Keys of the products the shopper bought, sorted; empty when they may not be personalised.
    bought: tuple[str, ...]


def shopper_facts(user_id: Any, session_key: str) -> ShopperFacts:
    """Opt-out and purchases of a user (by primary key) or an anonymous session, in one statement."""
    if user_id is None and not session_key:
        return ShopperFacts(personalised=True, bought=())
    purchases = Event.objects.of_shopper(user_id, session_key).filter(type=EventType.PURCHASE)
    sql, params = purchases.values("product_key").query.sql_with_params()
    if user_id is None:  # anonymous shoppers cannot opt out: only a known user can (recommender.privacy)
        opted_sql, opted_params = "false", ()
    else:
        opt_outs = PersonalisationOptOut.objects.filter(user_id=user_id).values("pk")
        opted_sql, opted_params = opt_outs.query.sql_with_params()
        opted_sql = f"EXISTS({opted_sql})"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {opted_sql}, ARRAY({sql})", [*opted_params, *params])
        opted_out, bought = cursor.fetchone()
    if opted_out:
        return ShopperFacts(personalised=False, bought=())
    return ShopperFacts(personalised=True, bought=tuple(sorted(set(bought or ()))))
