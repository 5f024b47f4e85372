"""Which exposure earned each click, add-to-cart and purchase: one SQL query over stored rows.

An event is attributed to the shopper's *last* exposure in the experiment before it, within
``EXPERIMENT_ATTRIBUTION_HOURS`` (default 24): a click only to an exposure of the slot it names
(the beacon sends it), an add-to-cart or purchase to any slot of the experiment. The shopper is
matched by the anonymous session id (which survives login), else by the user (an event without
a session, or from another device). Both lookups walk an index on (shopper, time). Revenue is the
purchase's quantity × the product's stored catalog price (the serving version's vector row).

Nothing is written per request for attribution: ``POST events/`` stays one insert, and the
statistics page, the bandit update and the benchmark all read the same function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection

from recommender.conf import app_settings
from recommender.models import Event, Exposure, ProductVector
from recommender.versions import serving_version

__all__ = ["Outcome", "outcomes"]


@dataclass(frozen=True)
class Outcome:
    """One exposure and what followed it: whether it was clicked, carted, bought, and the revenue."""

    exposure_id: int
    variant_id: int
    day: date
    unit: str
    clicked: bool
    carted: bool
    purchased: bool
    revenue: float


def outcomes(experiment_id: int, *, since: datetime | None = None) -> list[Outcome]:
    """Every exposure of the experiment (from ``since``) with its attributed events, oldest first."""
    window = timedelta(hours=float(app_settings.EXPERIMENT_ATTRIBUTION_HOURS))
    version = serving_version()
    exposures, events, vectors = Exposure._meta.db_table, Event._meta.db_table, ProductVector._meta.db_table
    sql = f"""
        WITH x AS MATERIALIZED (
            SELECT id, variant_id, user_id, session_key, slot, created_at FROM {exposures}
            WHERE experiment_id = %(experiment)s AND created_at >= %(since)s
        ),
        ev AS MATERIALIZED (
            SELECT e.id, e.type, e.quantity, e.product_key, e.slot, e.user_id, e.session_key, e.created_at
            FROM {events} e
            WHERE e.type IN ('click', 'add_to_cart', 'purchase') AND e.created_at >= %(since)s
              AND ((e.session_key <> '' AND e.session_key IN (SELECT session_key FROM x WHERE session_key <> ''))
                   OR e.user_id IN (SELECT user_id FROM x WHERE user_id IS NOT NULL))
        ),
        att AS MATERIALIZED (
            SELECT ev.type, ev.quantity, ev.product_key, COALESCE(
                (SELECT x.id FROM {exposures} x
                 WHERE ev.session_key <> '' AND x.session_key = ev.session_key
                   AND x.experiment_id = %(experiment)s AND x.created_at >= %(since)s
                   AND x.created_at <= ev.created_at AND x.created_at > ev.created_at - %(window)s
                   AND (ev.type <> 'click' OR x.slot = ev.slot)
                 ORDER BY x.created_at DESC, x.id DESC LIMIT 1),
                (SELECT x.id FROM {exposures} x
                 WHERE ev.user_id IS NOT NULL AND x.user_id = ev.user_id
                   AND x.experiment_id = %(experiment)s AND x.created_at >= %(since)s
                   AND x.created_at <= ev.created_at AND x.created_at > ev.created_at - %(window)s
                   AND (ev.type <> 'click' OR x.slot = ev.slot)
                 ORDER BY x.created_at DESC, x.id DESC LIMIT 1)
            ) AS exposure_id
            FROM ev
        )
        SELECT x.id, x.variant_id, x.created_at,
               COALESCE(x.session_key, '') || '|' || COALESCE(x.user_id::text, ''),
               COALESCE(bool_or(att.type = 'click'), false),
               COALESCE(bool_or(att.type = 'add_to_cart'), false),
               COALESCE(bool_or(att.type = 'purchase'), false),
               COALESCE(SUM(att.quantity * COALESCE(pv.price, 0)) FILTER (WHERE att.type = 'purchase'), 0)
        FROM x
        LEFT JOIN att ON att.exposure_id = x.id
        LEFT JOIN {vectors} pv ON pv.version_id = %(version)s AND pv.product_key = att.product_key
        GROUP BY x.id, x.variant_id, x.created_at, x.session_key, x.user_id
        ORDER BY x.created_at, x.id
    """
    params = {
        "experiment": experiment_id,
        "since": since or datetime(1970, 1, 1, tzinfo=UTC),
        "window": window,
        "version": version.pk if version else None,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        Outcome(pk, variant, at.date(), unit, bool(c), bool(a), bool(p), float(revenue))
        for pk, variant, at, unit, c, a, p, revenue in rows
    ]
