"""Frequently bought together and customers also viewed: co-occurrence counts in events.

A basket is one shopper's purchases on one day (events carry no order id); "also viewed" pairs
products viewed by the same shopper. Counts are distinct baskets or shoppers, and pairs seen
fewer than ``min_support`` times are dropped as noise.

Once the worker has counted a kind (``recommender.neighbours``), a page reads the product's
neighbours from that table: one indexed range instead of a join over the events of everyone who
touched the product. Before the first count (a new shop, tests) the same numbers come live from
the events.
"""

from __future__ import annotations

from django.db import connection
from django.utils.translation import gettext

from recommender.models import Event, NeighbourBuild, NeighbourKind, ProductNeighbour
from recommender.neighbours import ALSO_VIEWED_WINDOW_DAYS, KEPT, MIN_SUPPORT
from recommender.strategies.base import Candidate, Context


def _owner_sql(alias: str) -> str:
    return f"COALESCE({alias}.user_id::text, 's:' || {alias}.session_key)"


def bought_together(ctx: Context, min_support: int = MIN_SUPPORT) -> list[Candidate]:
    if not ctx.product_key:
        return []
    reason = gettext("Often bought together")
    kept = _kept_neighbours(NeighbourKind.BOUGHT_TOGETHER, ctx, min_support)
    if kept is not None:
        return _candidates(kept, ctx, reason)
    table = Event._meta.db_table
    sql = f"""
        WITH baskets AS (
            SELECT DISTINCT {_owner_sql("t")} AS owner, (t.created_at AT TIME ZONE 'UTC')::date AS day
            FROM {table} t WHERE t.type = 'purchase' AND t.product_key = %s
        )
        SELECT e.product_key, COUNT(DISTINCT (b.owner, b.day)) AS support
        FROM {table} e JOIN baskets b
          ON {_owner_sql("e")} = b.owner AND (e.created_at AT TIME ZONE 'UTC')::date = b.day
        WHERE e.type = 'purchase' AND e.product_key <> %s
        GROUP BY e.product_key HAVING COUNT(DISTINCT (b.owner, b.day)) >= %s
        ORDER BY support DESC, e.product_key LIMIT %s
    """
    return _candidates(_fetch(sql, [ctx.product_key, ctx.product_key, min_support, ctx.fetch]), ctx, reason)


def also_viewed(ctx: Context, min_support: int = MIN_SUPPORT) -> list[Candidate]:
    if not ctx.product_key:
        return []
    reason = gettext("Customers who viewed this also viewed")
    kept = _kept_neighbours(NeighbourKind.ALSO_VIEWED, ctx, min_support)
    if kept is not None:
        return _candidates(kept, ctx, reason)
    table = Event._meta.db_table
    # Users and anonymous sessions are joined separately so each join uses its index (by user,
    # by session); a join on one COALESCE'd owner expression would scan every view event.
    sql = f"""
        WITH viewers AS (
            SELECT DISTINCT t.user_id, CASE WHEN t.user_id IS NULL THEN t.session_key END AS session_key
            FROM {table} t
            WHERE t.type IN ('view', 'click') AND t.product_key = %s
              AND t.created_at >= now() - make_interval(days => %s)
        ), co_viewed AS (
            SELECT e.product_key, 'u' || e.user_id::text AS owner
            FROM viewers v JOIN {table} e ON e.user_id = v.user_id
            WHERE e.type IN ('view', 'click') AND e.product_key <> %s
            UNION ALL
            SELECT e.product_key, 's:' || e.session_key
            FROM viewers v JOIN {table} e ON e.session_key = v.session_key AND e.user_id IS NULL
            WHERE v.user_id IS NULL AND e.type IN ('view', 'click') AND e.product_key <> %s
        )
        SELECT product_key, COUNT(DISTINCT owner) AS support FROM co_viewed
        GROUP BY product_key HAVING COUNT(DISTINCT owner) >= %s
        ORDER BY support DESC, product_key LIMIT %s
    """
    params = [ctx.product_key, ALSO_VIEWED_WINDOW_DAYS, ctx.product_key, ctx.product_key, min_support, ctx.fetch]
    return _candidates(_fetch(sql, params), ctx, reason)


def _kept_neighbours(kind: str, ctx: Context, min_support: int) -> list[tuple[str, int]] | None:
    """The product's counted neighbours, best first; None when the worker never counted this kind
    (or the table cannot answer: a lower support or more candidates than it keeps).

    One statement answers both whether the kind was built and its neighbours, so a page pays
    one round trip.
    """
    if min_support < MIN_SUPPORT or ctx.fetch > KEPT:
        return None
    sql = f"""
        SELECT n.neighbour_key, n.support FROM {NeighbourBuild._meta.db_table} b
        LEFT JOIN LATERAL (
            SELECT neighbour_key, support FROM {ProductNeighbour._meta.db_table}
            WHERE kind = b.kind AND product_key = %s AND support >= %s
            ORDER BY support DESC, neighbour_key LIMIT %s
        ) n ON true
        WHERE b.kind = %s
    """
    rows = _fetch(sql, [ctx.product_key, min_support, ctx.fetch, kind])
    if not rows:
        return None
    return [(key, support) for key, support in rows if key is not None]


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _candidates(rows: list[tuple], ctx: Context, reason: str) -> list[Candidate]:
    return [Candidate(key, float(score), reason) for key, score in rows if key not in ctx.exclude_keys]
