"""Which slot names analytics may count: impressions and clicks come from the shop, not from anyone.

A *slot* is a place on the shop's pages where results are shown ("home", "product-similar"); the
``SlotStat`` counters say how often each was shown, clicked and led to a purchase. Anyone can
send ``?slot=`` to the REST API and ``{"type": "click", "slot": ...}`` to the events endpoint,
so a slot counts only when the shop declared it:

- the API's default slot ``"api"`` and the search results' ``"search"``;
- ``RECOMMENDER["SLOTS"]``: extra slot names for API clients (a shop's app or JS front end);
- the admin's *default strategy per slot* (``RecommenderSettings.slot_strategies``);
- slots a template tag (or the Python ``recommend(record_impression=True)``) rendered today or
  yesterday: their impressions row is the declaration, written by the server, never by a client.

Impressions of an undeclared slot are not counted (the results are served all the same); an
event naming one is refused (``EventError``, a 400 in the API). Clicks are capped by the
impressions of their slot, strategy and day, conversions by the clicks (``SlotStat.add_capped``),
so no slot shows a click-through rate above 100 %.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from recommender.conf import app_settings
from recommender.models import RecommenderSettings, SlotStat

__all__ = ["API_SLOT", "SEARCH_SLOT", "SEARCH_STRATEGY", "declared_slots", "is_known_slot"]

API_SLOT = "api"
SEARCH_SLOT = SEARCH_STRATEGY = "search"  # recommender/search/results.html's data-rec-slot and -strategy
# A page rendered before midnight may be clicked after it: yesterday's renderings still declare.
DECLARED_DAYS = 2


def declared_slots() -> set[str]:
    """Slot names declared in code and settings (not counting those tags rendered)."""
    return {API_SLOT, SEARCH_SLOT, *map(str, app_settings.SLOTS), *map(str, RecommenderSettings.get().slot_strategies)}


def is_known_slot(slot: str) -> bool:
    """Whether ``slot`` may count impressions, clicks and conversions (see module docstring)."""
    if not slot:
        return False
    if slot in declared_slots():
        return True
    since = timezone.localdate() - timedelta(days=DECLARED_DAYS - 1)
    return SlotStat.objects.filter(day__gte=since, slot=slot, impressions__gt=0).exists()
