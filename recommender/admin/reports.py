"""Analytics queries behind the admin's analytics page: slot performance and search quality.

    period = last_days(30)
    slot_performance(period)     # [SlotPerformance(slot, strategy, impressions, clicks, conversions)]
    daily_traffic(period)        # one DailyTraffic per day, zero-filled
    daily_ctr(period)            # {"home / for_you": [ctr or None per day]}
    top_queries(period)          # most searched normalised queries
    zero_result_queries(period)  # most searched queries that found nothing

Slot numbers come from the ``SlotStat`` counters (one row per day, slot and strategy); search
numbers from the ``SearchQuery`` log. Plain functions, so tests and other views can call them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Avg, Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from recommender.models import SearchQuery, SlotStat

__all__ = [
    "DailyTraffic",
    "Period",
    "QueryStat",
    "SearchTotals",
    "SlotPerformance",
    "daily_ctr",
    "daily_traffic",
    "last_days",
    "search_totals",
    "slot_performance",
    "slot_totals",
    "top_queries",
    "zero_result_queries",
]


@dataclass(frozen=True)
class Period:
    """An inclusive range of days."""

    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def last_days(days: int, today: date | None = None) -> Period:
    """The ``days`` days up to and including today (the shop's local date)."""
    end = today or timezone.localdate()
    return Period(start=end - timedelta(days=max(days, 1) - 1), end=end)


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass(frozen=True)
class SlotPerformance:
    slot: str
    strategy: str
    impressions: int
    clicks: int
    conversions: int

    @property
    def ctr(self) -> float:
        """Clicks per impression."""
        return _rate(self.clicks, self.impressions)

    @property
    def conversion_rate(self) -> float:
        """Purchases after a click, per click."""
        return _rate(self.conversions, self.clicks)


def _stats(period: Period) -> QuerySet:
    return SlotStat.objects.filter(day__gte=period.start, day__lte=period.end)


def slot_performance(period: Period) -> list[SlotPerformance]:
    """Totals per (slot, strategy) over the period, most shown first."""
    rows = (
        _stats(period)
        .values("slot", "strategy")
        .annotate(impressions=Sum("impressions"), clicks=Sum("clicks"), conversions=Sum("conversions"))
        .order_by("-impressions", "slot", "strategy")
    )
    return [SlotPerformance(**row) for row in rows]


def slot_totals(period: Period) -> SlotPerformance:
    """Every slot and strategy together."""
    totals = _stats(period).aggregate(
        impressions=Sum("impressions"), clicks=Sum("clicks"), conversions=Sum("conversions")
    )
    return SlotPerformance(slot="", strategy="", **{key: value or 0 for key, value in totals.items()})


@dataclass(frozen=True)
class DailyTraffic:
    day: date
    impressions: int
    clicks: int
    conversions: int

    @property
    def ctr(self) -> float:
        return _rate(self.clicks, self.impressions)


def daily_traffic(period: Period) -> list[DailyTraffic]:
    """All slots together, one entry per day of the period (zero on days without traffic)."""
    rows = {
        row["day"]: row
        for row in _stats(period)
        .values("day")
        .annotate(impressions=Sum("impressions"), clicks=Sum("clicks"), conversions=Sum("conversions"))
    }
    empty = {"impressions": 0, "clicks": 0, "conversions": 0}
    return [DailyTraffic(day=day, **{key: rows.get(day, empty)[key] for key in empty}) for day in period.days]


def daily_ctr(period: Period) -> dict[str, list[float | None]]:
    """CTR per day for each "slot / strategy", aligned with ``period.days`` (None: not shown that day)."""
    index = {day: n for n, day in enumerate(period.days)}
    series: dict[str, list[float | None]] = {}
    for row in _stats(period).order_by("slot", "strategy", "day"):
        values = series.setdefault(f"{row.slot} / {row.strategy}", [None] * len(index))
        if row.impressions:
            values[index[row.day]] = row.clicks / row.impressions
    return series


@dataclass(frozen=True)
class QueryStat:
    query: str
    searches: int
    sessions: int
    avg_results: float
    clicked: int
    last_searched: object

    @property
    def click_rate(self) -> float:
        return _rate(self.clicked, self.searches)


def _queries(period: Period) -> QuerySet:
    return SearchQuery.objects.filter(created_at__date__gte=period.start, created_at__date__lte=period.end)


def _grouped(qs: QuerySet, limit: int) -> list[QueryStat]:
    rows = (
        qs.values("normalized")
        .annotate(
            searches=Count("id"),
            sessions=Count("session_hash", distinct=True, filter=~Q(session_hash="")),
            avg_results=Avg("result_count"),
            clicked=Count("id", filter=Q(clicked=True)),
            last_searched=Max("created_at"),
        )
        .order_by("-searches", "normalized")[:limit]
    )
    return [
        QueryStat(
            query=row["normalized"],
            searches=row["searches"],
            sessions=row["sessions"],
            avg_results=float(row["avg_results"] or 0.0),
            clicked=row["clicked"],
            last_searched=row["last_searched"],
        )
        for row in rows
    ]


def top_queries(period: Period, limit: int = 10) -> list[QueryStat]:
    """The most searched (normalised) queries of the period."""
    return _grouped(_queries(period), limit)


def zero_result_queries(period: Period, limit: int = 10) -> list[QueryStat]:
    """The most searched queries that found nothing: what the catalog (or the synonyms) lack."""
    return _grouped(_queries(period).filter(result_count=0), limit)


@dataclass(frozen=True)
class SearchTotals:
    searches: int
    zero_results: int
    clicked: int
    purchased: int

    @property
    def zero_result_rate(self) -> float:
        return _rate(self.zero_results, self.searches)

    @property
    def click_rate(self) -> float:
        return _rate(self.clicked, self.searches)

    @property
    def purchase_rate(self) -> float:
        return _rate(self.purchased, self.searches)


def search_totals(period: Period) -> SearchTotals:
    totals = _queries(period).aggregate(
        searches=Count("id"),
        zero_results=Count("id", filter=Q(result_count=0)),
        clicked=Count("id", filter=Q(clicked=True)),
        purchased=Count("id", filter=Q(purchased=True)),
    )
    return SearchTotals(**totals)
