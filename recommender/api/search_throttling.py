"""Throttles of the search endpoints: one scope each, with rates that work out of the box.

    REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {
        "recommender-search": "60/min",         # GET search/
        "recommender-suggest": "300/min",       # GET suggest/ (a request per pause in typing)
        "recommender-search-image": "10/min",   # POST search/image/ (an image embedding each)
    }}                                          # a rate of None switches that throttle off

Each is the event throttle (``EventRateThrottle``) with another scope, so shoppers are counted
the same way: per account, else per client address. A search costs far more than an event
(an encoder pass, several index scans), so an unthrottled endpoint lets one client take the
database: these rates sit far above a person's and far below a script's.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle

from recommender.api.throttling import EventRateThrottle

__all__ = [
    "DEFAULT_RATES",
    "IMAGE_SCOPE",
    "SEARCH_SCOPE",
    "SUGGEST_SCOPE",
    "SearchRateThrottle",
    "with_search_throttle",
]

SEARCH_SCOPE = "recommender-search"
SUGGEST_SCOPE = "recommender-suggest"
IMAGE_SCOPE = "recommender-search-image"
DEFAULT_RATES: dict[str, str] = {
    # A search a second for a minute: paging, refining and facets, never a person's pace for long.
    SEARCH_SCOPE: "60/min",
    # suggest.js asks after each 150 ms pause in typing: five a second, sustained for a minute.
    SUGGEST_SCOPE: "300/min",
    # Each upload is decoded and embedded by the image encoder: the costliest request of all.
    IMAGE_SCOPE: "10/min",
}


class SearchRateThrottle(EventRateThrottle):
    """The event throttle with a default rate per search scope (``None`` in the host's rates: off)."""

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        return rates.get(self.scope, DEFAULT_RATES.get(self.scope))


def with_search_throttle(throttles: list[BaseThrottle]) -> list[BaseThrottle]:
    """The host's default throttles plus ours (a plain ScopedRateThrottle is dropped, as for events)."""
    kept = [t for t in throttles if type(t) is not ScopedRateThrottle]
    return [*kept, SearchRateThrottle()]
