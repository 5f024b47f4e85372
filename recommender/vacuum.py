"""VACUUM ANALYZE a table the app has just rebuilt (suggestion phrases, neighbour tables).

Until then, index scans visit the replaced rows' dead versions and the planner plans for the old
size: on the H&M catalog, long suggestion prefixes took 25-40 ms right after a rebuild and 4-5 ms
after the vacuum. VACUUM cannot run inside a transaction, so inside one this does nothing and
autovacuum gets there later.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection, models

logger = logging.getLogger(__name__)


def vacuum_analyze(model: type[models.Model]) -> None:
    """VACUUM (ANALYZE) ``model``'s table; a refusal (not the table's owner) is logged, not raised."""
    if connection.in_atomic_block:
        return
    table = model._meta.db_table
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    except DatabaseError as exc:  # e.g. not the table's owner: autovacuum will get there
        logger.warning("Could not vacuum %s: %s", table, exc)
