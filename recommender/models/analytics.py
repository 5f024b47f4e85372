"""Slot analytics: impressions and clicks per day, slot and strategy, as counters.

One row per (day, slot, strategy), incremented in place, so a busy shop writes a few rows a
day instead of one per rendered product. Clicks come from attributed click events; conversions
from purchases that follow a click of the same product in the same session within a day. Clicks
never exceed the row's impressions, conversions never its clicks (``add_capped``): a client that
makes up clicks cannot push a click-through rate above 100 % (``recommender/slots.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date
from typing import ClassVar

from django.db import connection, models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from recommender.db_binding import server_side_binding


class SlotStat(models.Model):
    day = models.DateField(_("day"))
    slot = models.CharField(_("slot"), max_length=64)
    strategy = models.CharField(_("strategy"), max_length=64)
    impressions = models.PositiveBigIntegerField(_("impressions"), default=0)
    clicks = models.PositiveBigIntegerField(_("clicks"), default=0)
    conversions = models.PositiveBigIntegerField(_("conversions"), default=0)

    class Meta:
        verbose_name = _("slot statistic")
        verbose_name_plural = _("slot statistics")
        ordering: ClassVar[list[str]] = ["-day", "slot", "strategy"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["day", "slot", "strategy"], name="recommender_one_stat_per_slot_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.slot}/{self.strategy}"

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @classmethod
    def bump(cls, slot: str, strategy: str, *, impressions: int = 0, clicks: int = 0, conversions: int = 0) -> None:
        """Add to today's counters for (slot, strategy) in one atomic upsert (safe under concurrency)."""
        cls.bump_impressions({(slot, strategy): impressions}, clicks=clicks, conversions=conversions)

    @classmethod
    def bump_impressions(cls, counts: Mapping[tuple[str, str], int], *, clicks: int = 0, conversions: int = 0) -> None:
        """Add ``counts`` ((slot, strategy) -> impressions; ``clicks`` and ``conversions`` to each)
        to today's rows in one upsert: a page's slots in one statement."""
        merged: Counter[tuple[str, str]] = Counter()
        for (slot, strategy), n in counts.items():
            merged[(slot[:64], strategy[:64])] += int(n)  # one row may be named twice once cut
        if not merged:
            return
        table = cls._meta.db_table
        today = timezone.localdate()
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(merged))
        params = [
            v for (slot, strategy), n in sorted(merged.items()) for v in (today, slot, strategy, n, clicks, conversions)
        ]
        # Counters, not orders: outside a transaction the upsert commits without waiting for its
        # WAL flush (a crash can lose the last fraction of a second of counts), so the hot row's
        # lock, which every page of a slot takes, is held for the update only. Inside the host's
        # transaction (ATOMIC_REQUESTS) the setting would cover its writes too: left alone there.
        # (Server-side binding sends one statement per message: the upsert then commits as before.)
        prefix = (
            "SELECT set_config('synchronous_commit', 'off', true); "
            if not server_side_binding() and not connection.in_atomic_block
            else ""
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"{prefix}INSERT INTO {table} (day, slot, strategy, impressions, clicks, conversions) "
                f"VALUES {values} ON CONFLICT (day, slot, strategy) DO UPDATE SET "
                f"impressions = {table}.impressions + EXCLUDED.impressions, "
                f"clicks = {table}.clicks + EXCLUDED.clicks, "
                f"conversions = {table}.conversions + EXCLUDED.conversions",
                params,
            )

    @classmethod
    def add_capped(cls, day: date, slot: str, strategy: str, field: str) -> bool:
        """Add one click (``field="clicks"``, capped by impressions) or conversion (capped by clicks)
        to the row of (day, slot, strategy); False when the cap (or a missing row) refuses it.

        One conditional UPDATE, so concurrent clicks cannot overshoot the cap.
        """
        cap = {"clicks": "impressions", "conversions": "clicks"}[field]
        table = cls._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {field} = {field} + 1 WHERE day = %s AND slot = %s AND strategy = %s "
                f"AND {field} < {cap}",
                [day, slot[:64], strategy[:64]],
            )
            return cursor.rowcount == 1
