"""Who read whose shopping history: one row per staff read of another user's personal results.

The REST API's ``?user=<id>`` on ``for-you/`` and ``recently-viewed/`` lets holders of the
``recommender.view_profile`` permission (support staff) see what a shopper is shown. Every such
read is written here before the results are served, so a shop's auditor can list them in the
admin (read-only). Names are copied into the row, so it stays readable after either user is
deleted (the links then become null); rows are pruned with ``EVENT_RETENTION_DAYS``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ProfileAccessLog(models.Model):
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    viewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recommender_profile_reads_made",
        verbose_name=_("viewer"),
    )
    viewer_name = models.CharField(_("viewer name"), max_length=150, blank=True)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recommender_profile_reads",
        verbose_name=_("looked-at user"),
    )
    subject_key = models.CharField(_("looked-at user id"), max_length=64)
    endpoint = models.CharField(_("endpoint"), max_length=64, help_text=_("The strategy whose results were read."))

    class Meta:
        verbose_name = _("profile access")
        verbose_name_plural = _("profile access log")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.viewer_name or self.viewer_id} read {self.endpoint} of user {self.subject_key}"

    @classmethod
    def record(cls, viewer: Any, subject: Any, endpoint: str) -> ProfileAccessLog:
        """Log that ``viewer`` read ``subject``'s ``endpoint`` results, now."""
        return cls.objects.create(
            viewer=viewer,
            viewer_name=viewer.get_username()[:150],
            subject=subject,
            subject_key=str(subject.pk)[:64],
            endpoint=endpoint[:64],
        )
