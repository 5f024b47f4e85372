"""Count every product pair's co-occurrence once, in the worker, so pages read neighbours instead of events.

    refresh_neighbours()                      # both kinds; beat task recommender.refresh_neighbours
    refresh_neighbours(["also_viewed"])       # or: manage.py recommender_neighbours --kind also_viewed

The counts are exactly what ``strategies.cooccurrence`` computes live from events for one product:

- **bought together**: a basket is one shopper's purchases on one (UTC) day; a pair's support is
  the number of distinct baskets holding both products.
- **also viewed**: a pair (A, B) counts the distinct shoppers (an account, or an anonymous
  session) who viewed or clicked A in the last ``ALSO_VIEWED_WINDOW_DAYS`` days and B at any time.

Pairs below ``MIN_SUPPORT`` are dropped and each product keeps its ``KEPT`` best neighbours
(support, then key). One difference from the live count, on purpose: a shopper with more than
``CRAWLER_PRODUCTS`` distinct recent products (or a basket that large) is left out, since all
pairs of 5,000 products a crawler viewed are 25 million rows of noise. Each kind is replaced in
one transaction, under an advisory lock, so readers see the old table or the new one, never half.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from recommender.models import Event, NeighbourBuild, NeighbourKind, ProductNeighbour
from recommender.vacuum import vacuum_analyze

__all__ = [
    "ALSO_VIEWED_WINDOW_DAYS",
    "CRAWLER_PRODUCTS",
    "KEPT",
    "MIN_SUPPORT",
    "NeighbourReport",
    "refresh_neighbours",
]

logger = logging.getLogger(__name__)

# Two baskets (or shoppers) is the least evidence that is not a coincidence on a small shop.
MIN_SUPPORT = 2
ALSO_VIEWED_WINDOW_DAYS = 90
# Neighbours kept per product: a slot fetches max(4 x limit, 40) candidates, 200 at the API's limit of 50.
KEPT = 200
CRAWLER_PRODUCTS = 500
LOCK = "recommender.neighbours"

_VIEW_OWNER = "CASE WHEN e.user_id IS NULL THEN 's:' || e.session_key ELSE 'u' || e.user_id::text END"
_BASKET_OWNER = "COALESCE(e.user_id::text, 's:' || e.session_key)"

_PAIRS_SQL = {
    NeighbourKind.BOUGHT_TOGETHER: f"""
        WITH baskets AS (
            SELECT DISTINCT {_BASKET_OWNER} AS owner, (e.created_at AT TIME ZONE 'UTC')::date AS day, e.product_key
            FROM {{events}} e WHERE e.type = 'purchase' AND e.product_key <> ''
        ), kept AS (
            SELECT b.* FROM baskets b JOIN (
                SELECT owner, day FROM baskets GROUP BY owner, day HAVING COUNT(*) <= %(crawler)s
            ) small USING (owner, day)
        ), pairs AS (
            SELECT a.product_key, b.product_key AS neighbour_key, COUNT(*) AS support
            FROM kept a JOIN kept b ON a.owner = b.owner AND a.day = b.day AND a.product_key <> b.product_key
            GROUP BY 1, 2 HAVING COUNT(*) >= %(min_support)s
        )""",
    NeighbourKind.ALSO_VIEWED: f"""
        WITH recent AS (
            SELECT DISTINCT {_VIEW_OWNER} AS owner, e.product_key FROM {{events}} e
            WHERE e.type IN ('view', 'click') AND e.product_key <> ''
              AND e.created_at >= now() - make_interval(days => %(window)s)
        ), kept AS (
            SELECT r.* FROM recent r JOIN (
                SELECT owner FROM recent GROUP BY owner HAVING COUNT(*) <= %(crawler)s
            ) small USING (owner)
        ), seen AS (
            SELECT DISTINCT {_VIEW_OWNER} AS owner, e.product_key FROM {{events}} e
            WHERE e.type IN ('view', 'click') AND e.product_key <> ''
        ), pairs AS (
            SELECT r.product_key, s.product_key AS neighbour_key, COUNT(*) AS support
            FROM kept r JOIN seen s ON s.owner = r.owner AND s.product_key <> r.product_key
            GROUP BY 1, 2 HAVING COUNT(*) >= %(min_support)s
        )""",
}


@dataclass(frozen=True)
class NeighbourReport:
    kind: str
    pairs: int
    products: int
    seconds: float


def refresh_neighbours(kinds: Iterable[str] | None = None, *, progress: bool = False) -> list[NeighbourReport]:
    """Recount the given kinds (default: all) from the events and replace their neighbours
    (``progress``: a bar over the kinds, for the command)."""
    chosen = list(kinds) if kinds is not None else list(NeighbourKind.values)
    unknown = sorted(set(chosen) - set(NeighbourKind.values))
    if unknown:
        raise ValueError(f"Unknown neighbour kind(s) {unknown}; choose from {list(NeighbourKind.values)}.")
    reports = [_refresh(kind) for kind in tqdm(chosen, desc="neighbours", unit="kind", disable=not progress)]
    vacuum_analyze(ProductNeighbour)  # serving reads no dead rows; the planner knows the new size
    return reports


def _refresh(kind: str) -> NeighbourReport:
    started = time.perf_counter()
    table = ProductNeighbour._meta.db_table
    sql = (
        _PAIRS_SQL[kind].format(events=Event._meta.db_table)
        + f"""
        , ranked AS (
            SELECT product_key, neighbour_key, support,
                   row_number() OVER (PARTITION BY product_key ORDER BY support DESC, neighbour_key) AS rank
            FROM pairs
        )
        INSERT INTO {table} (kind, product_key, neighbour_key, support)
        SELECT %(kind)s, product_key, neighbour_key, support FROM ranked WHERE rank <= %(kept)s"""
    )
    params = {
        "kind": kind,
        "kept": KEPT,
        "min_support": MIN_SUPPORT,
        "crawler": CRAWLER_PRODUCTS,
        "window": ALSO_VIEWED_WINDOW_DAYS,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # One build of a kind at a time: a second waits, then replaces the first's rows whole.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{LOCK}.{kind}"])
        cursor.execute(f"DELETE FROM {table} WHERE kind = %s", [kind])
        cursor.execute(sql, params)
        pairs = max(cursor.rowcount, 0)
        cursor.execute(f"SELECT COUNT(DISTINCT product_key) FROM {table} WHERE kind = %s", [kind])
        products = int(cursor.fetchone()[0])
        seconds = time.perf_counter() - started
        NeighbourBuild.objects.update_or_create(
            kind=kind,
            defaults={
                "built_at": timezone.now(),
                "seconds": seconds,
                "pairs": pairs,
                "products": products,
                "min_support": MIN_SUPPORT,
                "kept": KEPT,
            },
        )
    logger.info("Neighbours %s: %d pairs over %d products in %.1f s.", kind, pairs, products, seconds)
    return NeighbourReport(kind=kind, pairs=pairs, products=products, seconds=seconds)
