"""What the app holds about a shopper: export it, delete it, and let old data expire.

    export_user_data(user)      # dict, JSON-serialisable (events, profiles, search log, models)
    delete_user_data(user)      # events, profiles and session links; the query log keeps only
                                # anonymous aggregates (session hashes of the user's sessions go)
    prune_events(days)          # retention: events older than RECOMMENDER["EVENT_RETENTION_DAYS"]
                                # (query log and profile access log too)

    set_personalisation(user, False)   # opt out: profiles deleted, non-personal results from now on
    personalisation_enabled(user)      # False once opted out (a user, its pk, or None for anonymous)

An opted-out user gets no profile (none is built, and the existing ones are deleted at once),
no behaviour-model or profile "for you" (trending instead), no "recently viewed" and no
personal search boost. Their events are still stored: trending, bought-together, popularity
and the behaviour model's training are aggregates over all shoppers that show nobody anything
about them, and they stay exportable and deletable like everyone's.

Deleting the user in the host (``user.delete()``) removes the same rows through the foreign
keys' ``CASCADE``; anonymous-session rows linked to the user's sessions are removed by the
``pre_delete`` receiver in ``receivers.py``.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from recommender.cache import bump_shopper_generation
from recommender.clients import client_hash
from recommender.models import Event, ModelVersion, PersonalisationOptOut, Profile, ProfileAccessLog, SearchQuery
from recommender.signals import profile_stale

__all__ = [
    "delete_user_data",
    "export_user_data",
    "personalisation_enabled",
    "prune_events",
    "session_hash",
    "set_personalisation",
    "user_sessions",
]


def session_hash(session_key: str) -> str:
    """How the query log refers to a session: a one-way hash, never the key itself."""
    return hashlib.sha256(f"recommender:{session_key}".encode()).hexdigest()[:32] if session_key else ""


def user_sessions(user: Any) -> set[str]:
    """Anonymous session ids that were merged into (or used by) this user."""
    return set(Event.objects.filter(user=user).exclude(session_key="").values_list("session_key", flat=True))


def personalisation_enabled(user: Any) -> bool:
    """Whether the app may personalise for ``user`` (a user, its primary key, or None).

    Anonymous shoppers are personalised by their session: only a known user can opt out.
    """
    user_id = getattr(user, "pk", user)
    if user_id is None:
        return True
    return not PersonalisationOptOut.objects.filter(user_id=user_id).exists()


@transaction.atomic
def set_personalisation(user: Any, enabled: bool) -> bool:
    """Opt ``user`` in (``True``) or out (``False``) of personalisation; returns whether it changed.

    Opting out deletes the user's profiles in every model version (and those of the anonymous
    sessions merged into them) and forgets their cached recommendations; opting back in queues a
    profile rebuild from the events stored meanwhile.
    """
    if enabled:
        changed = PersonalisationOptOut.objects.filter(user=user).delete()[0] > 0
    else:
        changed = PersonalisationOptOut.objects.get_or_create(user=user)[1]
        Profile.objects.filter(user=user).delete()
        Profile.objects.filter(user__isnull=True, session_key__in=user_sessions(user)).delete()
    transaction.on_commit(partial(_personalisation_changed, user.pk, enabled))
    return changed


def _personalisation_changed(user_id: Any, enabled: bool) -> None:
    bump_shopper_generation(user_id, "")
    if enabled:
        profile_stale.send(sender=Profile, user_id=user_id, session_key="")


def export_user_data(user: Any) -> dict[str, Any]:
    """Everything the app stores about ``user``, for a data-subject access request."""
    sessions = user_sessions(user)
    hashes = {session_hash(s) for s in sessions}
    events = Event.objects.filter(user=user).order_by("created_at")
    profiles = Profile.objects.filter(user=user).select_related("version")
    searches = SearchQuery.objects.filter(
        Q(session_hash__in=hashes) | Q(client_hash=client_hash(user_id=user.pk))
    ).order_by("created_at")
    behaviour_versions = ModelVersion.objects.filter(kind=ModelVersion.Kind.BEHAVIOUR).exclude(state="failed")
    opt_out = PersonalisationOptOut.objects.filter(user=user).first()
    return {
        "user": {"id": user.pk, "username": user.get_username()},
        "exported_at": timezone.now().isoformat(),
        "personalisation": {
            "enabled": opt_out is None,
            "opted_out_at": opt_out.created_at.isoformat() if opt_out is not None else None,
        },
        "events": [
            {
                "type": e.type,
                "product_id": e.product_key,
                "quantity": e.quantity,
                "query": e.query,
                "slot": e.slot,
                "strategy": e.strategy,
                "session": e.session_key,
                "created_at": e.created_at.isoformat(),
            }
            for e in events
        ],
        "profiles": [
            {
                "model_version": p.version_id,
                "model": p.version.name,
                "events": p.event_count,
                "updated_at": p.updated_at.isoformat(),
                "vector_dimensions": len(p.vector) if p.vector is not None else 0,
            }
            for p in profiles
        ],
        "search_log": [
            {
                "query": q.query,
                "results": q.result_count,
                "clicked": q.clicked,
                "purchased": q.purchased,
                "created_at": q.created_at.isoformat(),
            }
            for q in searches
        ],
        # Staff reads of the user's personal results (the API's ?user=): when and what, not who:
        # the reader's identity is the staff member's data, kept in the shop's audit log.
        "profile_reads": [
            {"endpoint": r.endpoint, "created_at": r.created_at.isoformat()}
            for r in ProfileAccessLog.objects.filter(subject=user).order_by("created_at")
        ],
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
    # The account's own hash goes too (anonymous searches count by network address, not linkable).
    counts["search_log_unlinked"] += SearchQuery.objects.filter(client_hash=client_hash(user_id=user.pk)).update(
        client_hash=""
    )
    from recommender.cache import bump_shopper_generation

    bump_shopper_generation(user.pk, "")
    return counts


def prune_events(days: float) -> int:
    """Delete events (and query-log and profile-access-log rows) older than ``days``; returns how many events went."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted = Event.objects.filter(created_at__lt=cutoff).delete()[0]
    SearchQuery.objects.filter(created_at__lt=cutoff).delete()
    ProfileAccessLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted
