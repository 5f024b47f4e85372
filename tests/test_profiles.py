"""Shopper profiles: the decayed, type-weighted blend, and anonymous history merged at login.

The shop is conftest's ``vector_shop``: 12 products in 4 families with hand-made 4-d vectors
(one axis per family), so every expected ranking can be worked out on paper; the encoder path
is covered in test_indexing.py.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth import login
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory
from django.utils import timezone

from recommender.events import SESSION_ID_KEY, record_event
from recommender.models import Event, Profile, RecommenderSettings
from recommender.profiles import update_profile

pytestmark = pytest.mark.django_db


def _vec(axis: int) -> np.ndarray:
    """The unwobbled vector of a family (conftest's VECTOR_SHOP_FAMILIES axis)."""
    v = np.full(4, 0.02, dtype=np.float32)
    v[axis] = 1.0
    return v / np.linalg.norm(v)


def test_profile_is_decayed_type_weighted_blend(vector_shop, user):
    settings = RecommenderSettings.get()
    settings.profile_half_life_days = 10
    settings.save()
    now = timezone.now()
    record_event("purchase", user=user, product_key=vector_shop["coat-a"], created_at=now - timedelta(days=10))
    record_event("view", user=user, product_key=vector_shop["dress-a"], created_at=now)
    profile = update_profile(user.pk)
    w = settings.event_weights
    expected = w["view"] * _vec(0) + w["purchase"] * 0.5 * _vec(1)
    np.testing.assert_allclose(profile.vector, expected / np.linalg.norm(expected), atol=1e-5)
    assert profile.event_count == 2
    assert not Event.objects.filter(processed=False).exists()


def test_anonymous_history_merges_into_the_user_at_login(vector_shop, user, django_capture_on_commit_callbacks):
    request = RequestFactory().get("/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = type("Anon", (), {"is_authenticated": False})()
    with django_capture_on_commit_callbacks(execute=True):
        record_event("view", request=request, product_key=vector_shop["shoes-a"])
    sid = request.session[SESSION_ID_KEY]
    assert Profile.objects.filter(session_key=sid).exists()  # updated right after the event
    with django_capture_on_commit_callbacks(execute=True):
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    assert Event.objects.get().user == user
    assert request.session[SESSION_ID_KEY] == sid  # survived the key rotation
    assert (
        Profile.objects.filter(user=user).exists() and not Profile.objects.filter(session_key=sid, user=None).exists()
    )
