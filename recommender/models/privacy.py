"""Shoppers who opted out of personalisation: one row per user, and the row is the flag.

Set and read it through :mod:`recommender.privacy` (``set_personalisation(user, False)``,
``personalisation_enabled(user)``), never by writing rows directly: opting out also deletes the
user's profiles and forgets their cached recommendations. Personalisation is on by default, so
most users have no row; the row goes with the user (``CASCADE``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PersonalisationOptOut(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="recommender_opt_out",
        verbose_name=_("user"),
    )
    created_at = models.DateTimeField(_("opted out at"), default=timezone.now)

    class Meta:
        verbose_name = _("personalisation opt-out")
        verbose_name_plural = _("personalisation opt-outs")

    def __str__(self) -> str:
        return f"user {self.user_id} opted out of personalisation"
