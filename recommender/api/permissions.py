"""Who may read whose personal recommendations.

``?user=<id>`` on ``for-you/`` and ``recently-viewed/`` shows another user's results, built from
their history: only for holders of ``recommender.view_profile`` (the view permission of the
Profile model; superusers have every permission). Every refusal is the same 403 with the same
body, whether the requester lacks the permission, the id is malformed or no such user exists, so
nobody learns which ids exist; refusals are logged, allowed reads are written to the
``ProfileAccessLog`` by the view.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext_lazy
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from recommender.api.lookups import named_user

logger = logging.getLogger(__name__)

READ_PROFILE_PERMISSION = "recommender.view_profile"
USER_PARAMETER = "user"


class MayReadNamedUser(BasePermission):
    """Lets a ``?user=`` request through only for a permitted reader and an existing user.

    Sets ``view.named_user`` (the user whose results to show). Raises 403 itself, also for
    anonymous requests: DRF would answer those "credentials were not provided", or 401 when the
    host lists BasicAuthentication first, which would again tell refusals apart.
    """

    message = gettext_lazy("You may not read this user's recommendations.")

    def has_permission(self, request: Any, view: Any) -> bool:
        if USER_PARAMETER not in request.query_params:
            return True
        value = request.query_params[USER_PARAMETER]
        # No lookup without the permission: not even the time a lookup takes may tell ids apart.
        user = named_user(value) if request.user.has_perm(READ_PROFILE_PERMISSION) else None
        if user is None:
            logger.info(
                "Refused ?user=%r on %s for %s.",
                value[:80],
                request.path,
                getattr(request.user, "pk", None) or "anonymous",
            )
            raise PermissionDenied(self.message)
        view.named_user = user
        return True
