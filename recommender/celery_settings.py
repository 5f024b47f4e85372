"""Celery settings for a host project from the environment, in one line of its settings::

    from recommender.celery_settings import broker_from_env
    CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_TASK_ALWAYS_EAGER = broker_from_env()

``CELERY_BROKER_URL`` names the broker (``redis://…``, ``amqp://…``, ``filesystem://``);
``CELERY_BROKER_TRANSPORT_OPTIONS`` takes the transport's options as JSON (e.g. the folders of
kombu's ``filesystem://`` transport). Without a broker URL, tasks run eagerly in the web process
over the in-memory transport: Celery still builds a producer for eager calls, and with no URL at
all kombu would warn "No hostname was supplied" on every task.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

EAGER_BROKER_URL = "memory://localhost/"  # a hostname, or kombu warns on each eager call


def broker_from_env(environ: Mapping[str, str] = os.environ) -> tuple[str, dict[str, Any], bool]:
    """``(broker_url, transport_options, always_eager)`` from ``CELERY_BROKER_URL`` and
    ``CELERY_BROKER_TRANSPORT_OPTIONS``; eager over ``memory://`` when no URL is set."""
    url = environ.get("CELERY_BROKER_URL", "").strip()
    raw = environ.get("CELERY_BROKER_TRANSPORT_OPTIONS", "").strip() or "{}"
    try:
        options = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"CELERY_BROKER_TRANSPORT_OPTIONS must be a JSON object: {exc}") from exc
    if not isinstance(options, dict):
        raise ImproperlyConfigured(
            'CELERY_BROKER_TRANSPORT_OPTIONS must be a JSON object, e.g. {"visibility_timeout": 3600}'
        )
    return (url or EAGER_BROKER_URL), options, not url
