"""Celery tasks: thin, named wrappers over plain functions (which the tests also call).

The host project owns the Celery app (see ``tasks/celery.py`` in this repository);
these are ``shared_task``s so they bind to whatever app the host runs. Tasks take product
keys, re-read everything inside, and are idempotent, so ``acks_late`` redelivery after a
worker crash repeats work without duplicating rows.
"""

from __future__ import annotations

from celery import shared_task

from recommender import product_sync


@shared_task(name="recommender.sync_product_fields", acks_late=True, reject_on_worker_lost=True)
def sync_product_fields(keys: list[str]) -> int:
    """Refresh filter fields (stock, price, category) of stored vectors."""
    return product_sync.sync_product_fields(keys)
