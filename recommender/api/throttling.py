"""The event throttle: DRF's ScopedRateThrottle with a rate that works out of the box.

Hosts tune it in their own settings, without editing anything else in ``REST_FRAMEWORK``::

    REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-events": "300/min"}}  # None: off

Anonymous shoppers are counted per client IP, users per account: a new session is free to make,
so counting per session would not stop a flood. The client IP is the peer address unless the host
declares its proxies (``RECOMMENDER["TRUSTED_PROXIES"]``, or DRF's ``NUM_PROXIES``): DRF's own
``get_ident`` believes any ``X-Forwarded-For``, so a client could pick a new address per request
(``recommender/proxies.py``). Subclasses change who is counted by overriding ``get_ident``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle

from recommender.proxies import client_address, declared_proxies, note_forwarded_header

EVENT_THROTTLE_SCOPE = "recommender-events"
# Two events a second, sustained for a minute: far above a person browsing (a view, a click
# and a search every few seconds), low enough that a script cannot flood the events table.
DEFAULT_EVENT_RATE = "120/min"


class EventRateThrottle(ScopedRateThrottle):
    """ScopedRateThrottle whose scope has a default rate instead of raising ImproperlyConfigured."""

    def get_rate(self) -> str | None:
        # Read on every request (the parent reads a dict captured at import time), so
        # override_settings(REST_FRAMEWORK=...) and hosts' settings both take effect.
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        return rates.get(self.scope, DEFAULT_EVENT_RATE)

    def get_ident(self, request: Any) -> str:
        """The client address anonymous requests are counted by: X-Forwarded-For only from declared proxies."""
        proxies = declared_proxies()
        if proxies is None and "HTTP_X_FORWARDED_FOR" in request.META:
            note_forwarded_header()  # for check recommender.W002
        return client_address(request.META, proxies)


def with_event_throttle(throttles: list[BaseThrottle]) -> list[BaseThrottle]:
    """The host's default throttles plus ours.

    A plain ScopedRateThrottle among the host's defaults is dropped: for our scope it would
    raise ImproperlyConfigured when the host has no rate for it, and ours does its job.
    """
    kept = [t for t in throttles if type(t) is not ScopedRateThrottle]
    return [*kept, EventRateThrottle()]
