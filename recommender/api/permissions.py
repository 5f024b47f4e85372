"""Who may read whose personal recommendations."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission


class StaffMayNameUser(BasePermission):
    """``?user=<id>`` is for staff (support, merchandisers); anyone else naming a user gets 403.

    Checked before the parameter is validated, so non-staff cannot probe which user ids exist.
    Raises 403 itself, also for anonymous requests: DRF would answer those "credentials were
    not provided", or 401 when the host lists BasicAuthentication first.
    """

    message = "Only staff may read another user's recommendations."

    def has_permission(self, request: Any, view: Any) -> bool:
        if "user" in request.query_params and not getattr(request.user, "is_staff", False):
            raise PermissionDenied(self.message)
        return True
