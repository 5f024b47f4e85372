"""What shoppers do: typed events, for users and anonymous sessions.

Events are the source of truth for profiles, co-purchase and trending; they are written
synchronously to Postgres so that nothing is lost when the broker is down.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    VIEW = "view", _("view")
    CLICK = "click", _("click")
    ADD_TO_CART = "add_to_cart", _("add to cart")
    PURCHASE = "purchase", _("purchase")
    SEARCH = "search", _("search")


class EventQuerySet(models.QuerySet["Event"]):
    """Shopper-history queries, named once: ``Event.objects.of_shopper(user_id, session_key)...``."""

    def of_shopper(self, user_id: Any, session_key: str) -> EventQuerySet:
        """A user's events (including what they did anonymously before login), or an anonymous
        session's; nothing for neither."""
        if user_id is not None:
            return self.filter(user_id=user_id)
        if not session_key:
            return self.none()
        return self.filter(session_key=session_key, user__isnull=True)

    def newest_first(self) -> EventQuerySet:
        return self.order_by("-created_at", "-pk")

    def purchased_keys(self) -> set[str]:
        """Keys of the products these events bought."""
        return set(self.filter(type=EventType.PURCHASE).values_list("product_key", flat=True))

    def product_history(self, types: Iterable[str], limit: int) -> list[tuple[str, str]]:
        """(product key, event type) of the newest ``limit`` product events of these types."""
        rows = self.filter(type__in=list(types)).exclude(product_key="").newest_first()
        return list(rows.values_list("product_key", "type")[:limit])


class Event(models.Model):
    type = models.CharField(_("type"), max_length=16, choices=EventType.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="recommender_events",
        verbose_name=_("user"),
    )
    session_key = models.CharField(_("session"), max_length=64, blank=True, db_index=True)
    product_key = models.CharField(_("product key"), max_length=64, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    query = models.CharField(_("search query"), max_length=500, blank=True)
    result_count = models.PositiveIntegerField(_("results"), null=True, blank=True)
    slot = models.CharField(_("slot"), max_length=64, blank=True, help_text=_("Where a clicked product was shown."))
    strategy = models.CharField(_("strategy"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    # Profiles updated from this event (False while the broker is down; beat catches up).
    processed = models.BooleanField(_("processed"), default=False)

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering: ClassVar[list[str]] = ["-created_at"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "-created_at"], name="recommender_ev_user_idx"),
            models.Index(fields=["product_key", "type", "-created_at"], name="recommender_ev_product_idx"),
            models.Index(fields=["type", "-created_at"], name="recommender_ev_type_idx"),
            # Anonymous shoppers' history (recently viewed, profiles, also viewed) by session.
            models.Index(
                fields=["session_key", "-created_at"],
                name="recommender_ev_session_idx",
                condition=models.Q(user__isnull=True),
            ),
            models.Index(
                fields=["created_at"], name="recommender_ev_unprocessed_idx", condition=models.Q(processed=False)
            ),
        ]

    def __str__(self) -> str:
        who = f"user {self.user_id}" if self.user_id else f"session {self.session_key[:8]}"
        return f"{self.type} {self.product_key or self.query} by {who}"
