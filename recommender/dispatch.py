"""Send a Celery task, or say what happens instead when the broker is down: the one copy of
that fallback, shared by every task the app queues.

    dispatch.send(embed_products, args=[keys], on_unavailable=lambda: mark_pending(keys),
                  what="embedding 3 products")

A shopper's request must not hang on a dead broker: publishing is retried twice, quickly, then
``on_unavailable`` runs (e.g. mark rows pending for the beat task that catches up) and ``send``
returns False. In eager mode (``CELERY_TASK_ALWAYS_EAGER``) the task runs inside the caller; its
failure is logged, never raised into the shop's request, and ``on_unavailable`` runs too, so the
work is retried later exactly as after a broker outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def send(
    task: Any,
    *,
    args: Sequence[Any] = (),
    what: str,
    on_unavailable: Callable[[], None] | None = None,
    **options: Any,
) -> bool:
    """``task.apply_async(args, **options)``; False (logged, ``on_unavailable`` called) when it
    could not be queued or, in eager mode, failed."""
    try:
        task.apply_async(args=list(args), retry_policy=PUBLISH_RETRY, **options)
        return True
    except Exception as exc:  # kombu raises many types for an unreachable broker
        if task.app.conf.task_always_eager:
            logger.exception("%s failed in eager mode; left for the catch-up task.", what.capitalize())
        else:
            logger.warning("Broker unavailable (%s); %s left for the catch-up task.", exc, what)
        if on_unavailable is not None:
            on_unavailable()
        return False
