"""The event throttle: DRF's ScopedRateThrottle with a rate that works out of the box.

Hosts tune it in their own settings, without editing anything else in ``REST_FRAMEWORK``::

    REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-events": "300/min"}}  # None: off

Anonymous shoppers are counted per client IP, users per account: a new session is free to make,
so counting per session would not stop a flood. The client IP is the peer address unless the host
declares its proxies (``RECOMMENDER["TRUSTED_PROXIES"]``, or DRF's ``NUM_PROXIES``): DRF's own
``get_ident`` believes any ``X-Forwarded-For``, so a client could pick a new address per request
(``recommender/proxies.py``). Subclasses change who is counted by overriding ``get_ident``.

The rate counts events, not requests: a batch (``{"events": [...]}``) uses one slot of the
window per event, so batching never lets a client store more events than the rate allows; a
batch larger than what is left of the window is refused whole (429).
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

    def allow_request(self, request: Any, view: Any) -> bool:
        """DRF's sliding window, where a request weighs as many events as it carries."""
        self.scope = getattr(view, self.scope_attr, None)  # as ScopedRateThrottle.allow_request
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        weight = event_count(request)
        if len(self.history) + weight > self.num_requests:
            return self.throttle_failure()
        self.history[:0] = [self.now] * weight
        self.cache.set(self.key, self.history, self.duration)
        return True

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


def event_count(request: Any) -> int:
    """How many events a request carries: the length of a batch's list, else 1.

    Parses the body (bounded by the parser's size limit); an unparsable body raises the
    parser's 400 or 413 here, before anything is stored.
    """
    data = request.data
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        return max(1, len(data["events"]))
    return 1
