"""Who and what a request is about: the product in the URL, the shopper whose history is used.

Privacy lives here: personal results are always the requester's own (their user, or their
anonymous session), except for permitted staff who name a user explicitly (the view's
permission class has checked that already, with :func:`named_user`).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext
from rest_framework.exceptions import NotFound

from recommender.catalog import get_adapter
from recommender.events import shopper_session_id

# Longer ids are not looked up (no user model keys its users by longer strings).
MAX_USER_ID_LENGTH = 255


def product_key_or_404(product_id: str) -> str:
    """The canonical key of an existing product ("042" → "42"), or 404."""
    adapter = get_adapter()
    # Longer keys cannot be stored; NUL cannot be sent to Postgres in a text parameter.
    if len(product_id) > adapter.MAX_KEY_LENGTH or "\x00" in product_id:
        raise NotFound(gettext("Unknown product."))
    try:
        pk = adapter.to_pk(product_id)
    except (DjangoValidationError, ValueError, TypeError):
        pk = None
    product = adapter.get_queryset().filter(pk=pk).first() if pk is not None else None
    if product is None:
        raise NotFound(gettext("Unknown product %(id)r.") % {"id": product_id})
    return adapter.key(product)


def named_user(value: str) -> AbstractBaseUser | None:
    """The user whose primary key is ``value``, or None (malformed ids included)."""
    model = get_user_model()
    if len(value) > MAX_USER_ID_LENGTH or "\x00" in value:
        return None
    try:
        pk = model._meta.pk.to_python(value)
    except (DjangoValidationError, ValueError, TypeError):
        return None
    return model._default_manager.filter(pk=pk).first() if pk is not None else None


def reader(request: Any, as_user: AbstractBaseUser | None = None) -> tuple[AbstractBaseUser | None, str]:
    """(user, anonymous session id) whose history personal results use.

    Reading never creates a session: a visitor without one has no history to read, and
    cookie-less clients (crawlers, health checks) must not write a session row per request.
    """
    if as_user is not None:
        return as_user, ""
    user = request.user if request.user.is_authenticated else None
    return user, shopper_session_id(request, create=False)
