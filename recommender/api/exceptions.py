"""Database outages answer ``503 Service Unavailable`` with ``Retry-After``, not a 500 page.

Every API view (``ApiView``) wraps the host's ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``: a
``django.db.OperationalError`` or ``InterfaceError`` (the server is down or restarting, a
connection was cut, a statement timed out) becomes :class:`DatabaseUnavailable`, which the
host's handler renders like any other API error::

    HTTP/1.1 503 Service Unavailable
    Retry-After: 5
    {"detail": "The recommendation service's database is unavailable. Retry in a few seconds."}

Nothing is recorded for such a request (an event is stored only with a 201), so clients may
retry. Other errors reach the host's handler unchanged. Django reconnects by itself once the
server is back (a new connection per request, or ``CONN_HEALTH_CHECKS`` for persistent ones).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

logger = logging.getLogger(__name__)

# A restarting or failing-over Postgres is back within seconds; clients should not hammer it.
RETRY_AFTER_SECONDS = 5

ExceptionHandler = Callable[[Exception, dict[str, Any]], Response | None]


class DatabaseUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The recommendation service's database is unavailable. Retry in a few seconds.")
    default_code = "database_unavailable"
    wait = RETRY_AFTER_SECONDS  # DRF's handler turns ``wait`` into the Retry-After header


def handle_database_outage(host_handler: ExceptionHandler, exc: Exception, context: dict[str, Any]) -> Response | None:
    """``host_handler``, with database connection errors turned into :class:`DatabaseUnavailable`."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return host_handler(exc, context)
    view = context.get("view")
    logger.warning("%s answered 503, database unavailable: %s", type(view).__name__, str(exc).strip()[:300])
    response = host_handler(DatabaseUnavailable(), context)
    if response is not None:
        response.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))  # a host handler may not set it
    return response


def with_database_outage_handling(host_handler: ExceptionHandler) -> ExceptionHandler:
    return partial(handle_database_outage, host_handler)
