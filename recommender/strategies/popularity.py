"""Trending: time-decayed popularity, measured from the most recent event.

Decaying from the newest event rather than from "now" keeps trending meaningful for a shop
whose history was imported (or that was quiet for a while). A shop with fewer popular products
than a shelf needs (a new shop has none) is topped up with the catalogue's newest products
("New in", :mod:`recommender.strategies.catalogue`), ranked after every popular one.
"""

from __future__ import annotations

from django.db import connection
from django.utils.translation import gettext

from recommender.models import Event
from recommender.strategies.base import Candidate, Context
from recommender.strategies.catalogue import new_in

# Purchase intent counts most; views are plentiful and cheap.
TRENDING_WEIGHTS = {"view": 1.0, "click": 1.0, "add_to_cart": 3.0, "purchase": 5.0}
# A day-old event counts half: trending should move within a week.
HALF_LIFE_DAYS = 1.0
WINDOW_DAYS = 14


def trending(ctx: Context) -> list[Candidate]:
    table = Event._meta.db_table
    cases = " ".join(f"WHEN '{t}' THEN {w}" for t, w in TRENDING_WEIGHTS.items())
    # ::float8 matters: extract() returns numeric, and power() on numeric is ~8x slower.
    sql = f"""
        WITH ref AS (SELECT max(created_at) AS t FROM {table} WHERE product_key <> '')
        SELECT e.product_key,
               SUM((CASE e.type {cases} ELSE 0 END) * e.quantity
                   * power(0.5, extract(epoch FROM ref.t - e.created_at)::float8 / %s)) AS score
        FROM {table} e, ref
        WHERE e.product_key <> '' AND e.created_at >= ref.t - make_interval(days => %s)
        GROUP BY e.product_key ORDER BY score DESC LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [HALF_LIFE_DAYS * 86400.0, WINDOW_DAYS, ctx.fetch + len(ctx.exclude_keys)])
        rows = cursor.fetchall()
    hot = [Candidate(key, float(score), gettext("Trending now")) for key, score in rows if key not in ctx.exclude_keys]
    if len(hot) < ctx.fetch:
        floor = min((c.score for c in hot), default=1.0)
        hot += new_in(ctx, ctx.fetch - len(hot), exclude={c.key for c in hot}, below=floor)
    return hot
