"""What the app holds about a shopper: export it, delete it, and let old data expire.

    export_user_data(user)      # dict, JSON-serialisable (events, profiles, search log, models)
    delete_user_data(user)      # events, profiles and session links; the query log keeps only
                                # anonymous aggregates (session hashes of the user's sessions go)
    prune_events(days)          # retention: events older than RECOMMENDER["EVENT_RETENTION_DAYS"]

Deleting the user in the host (``user.delete()``) removes the same rows through the foreign
keys' ``CASCADE``; anonymous-session rows linked to the user's sessions are removed by the
``pre_delete`` receiver in ``receivers.py``.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from recommender.models import Event, ModelVersion, Profile, SearchQuery


def session_hash(session_key: str) -> str:
    """How the query log refers to a session: a one-way hash, never the key itself."""
    return hashlib.sha256(f"recommender:{session_key}".encode()).hexdigest()[:32] if session_key else ""


def user_sessions(user: Any) -> set[str]:
    """Anonymous session ids that were merged into (or used by) this user."""
    return set(Event.objects.filter(user=user).exclude(session_key="").values_list("session_key", flat=True))


def export_user_data(user: Any) -> dict[str, Any]:
    """Everything the app stores about ``user``, for a data-subject access request."""
    sessions = user_sessions(user)
    hashes = {session_hash(s) for s in sessions}
    events = Event.objects.filter(user=user).order_by("created_at")
    profiles = Profile.objects.filter(user=user).select_related("version")
    searches = SearchQuery.objects.filter(session_hash__in=hashes).order_by("created_at") if hashes else []
    behaviour_versions = ModelVersion.objects.filter(kind=ModelVersion.Kind.BEHAVIOUR).exclude(state="failed")
    return {
        "user": {"id": user.pk, "username": user.get_username()},
        "exported_at": timezone.now().isoformat(),
        "events": [
            {"type": e.type, "product_id": e.product_key, "quantity": e.quantity, "query": e.query,
             "slot": e.slot, "strategy": e.strategy, "session": e.session_key, "created_at": e.created_at.isoformat()}
            for e in events
        ],  # fmt: skip
        "profiles": [
            {"model_version": p.version_id, "model": p.version.name, "events": p.event_count,
             "updated_at": p.updated_at.isoformat(), "vector_dimensions": len(p.vector) if p.vector is not None else 0}
            for p in profiles
        ],  # fmt: skip
        "search_log": [{"query": q.query, "results": q.result_count, "clicked": q.clicked, "purchased": q.purchased,
                        "created_at": q.created_at.isoformat()} for q in searches],  # fmt: skip
        # Behaviour models are trained on all shoppers' events: list the versions whose training
        # window includes this user's events (they are retrained without them after deletion).
        "model_versions_trained_on_user_events": [
            {"id": v.pk, "name": v.name, "created_at": v.created_at.isoformat()}
            for v in behaviour_versions
            if events and v.created_at >= events[0].created_at
        ],
    }


@transaction.atomic
def delete_user_data(user: Any) -> dict[str, int]:
    """Remove the user's events, profiles and session-linked rows; returns counts per kind."""
    sessions = user_sessions(user)
    hashes = {session_hash(s) for s in sessions}
    counts = {
        "session_events": Event.objects.filter(user__isnull=True, session_key__in=sessions).delete()[0],
        "events": Event.objects.filter(user=user).delete()[0],
        "profiles": Profile.objects.filter(user=user).delete()[0]
        + Profile.objects.filter(user__isnull=True, session_key__in=sessions).delete()[0],
        # The query texts stay as anonymous aggregates (suggestions need them); the link goes.
        "search_log_unlinked": SearchQuery.objects.filter(session_hash__in=hashes).update(session_hash="")
        if hashes
        else 0,
    }
    from recommender.cache import bump_shopper_generation

    bump_shopper_generation(user.pk, "")
    return counts


def prune_events(days: float) -> int:
    """Delete events (and query-log rows) older than ``days``; returns how many events went."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted = Event.objects.filter(created_at__lt=cutoff).delete()[0]
    SearchQuery.objects.filter(created_at__lt=cutoff).delete()
    return deleted
