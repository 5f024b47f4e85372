"""Profile vectors: a time-decayed, type-weighted blend of what a shopper touched.

One row per (user or anonymous session, encoder version); the vector lives in that
version's space so it can query its product vectors directly.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

from recommender.models.versions import ModelVersion


class Profile(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="recommender_profiles",
        verbose_name=_("user"),
    )
    session_key = models.CharField(_("session"), max_length=64, blank=True)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="profiles")
    vector = VectorField(_("vector"), null=True, blank=True, editable=False)
    event_count = models.PositiveIntegerField(_("events"), default=0)
    last_event_at = models.DateTimeField(_("last event"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["user", "version"], condition=Q(user__isnull=False), name="recommender_one_profile_per_user"
            ),
            models.UniqueConstraint(
                fields=["session_key", "version"],
                condition=Q(user__isnull=True),
                name="recommender_one_profile_per_session",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(session_key=""), name="recommender_profile_has_owner"
            ),
        ]

    def __str__(self) -> str:
        return f"profile of {f'user {self.user_id}' if self.user_id else 'session'} @ v{self.version_id}"
