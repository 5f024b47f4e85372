"""Export and deletion of a shopper's data, retention, opting out of personalisation, and no
leaks between shoppers."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from recommender.events import merge_session, record_event
from recommender.models import Event, PersonalisationOptOut, Profile, SearchQuery
from recommender.privacy import (
    delete_user_data,
    export_user_data,
    personalisation_enabled,
    prune_events,
    session_hash,
    set_personalisation,
)
from recommender.profiles import get_profile_vector, rebuild_profiles, update_profile
from recommender.recommend import recommend
from recommender.search.boosts import stored_profile
from recommender.versions import serving_version
from tests.factories import names
from tests.test_behaviour_shop import _events, _view

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(vector_shop):
    user = get_user_model().objects.create_user("alice")
    record_event("view", session_key="anon-1", product_key=vector_shop["dress-a"])
    Event.objects.filter(session_key="anon-1").update(user=user)  # merged at login
    record_event("purchase", user=user, product_key=vector_shop["coat-a"], quantity=2)
    record_event("search", user=user, session_key="anon-1", query="red coat", result_count=3)
    SearchQuery.objects.create(query="red coat", normalized="red coat", session_hash=session_hash("anon-1"))
    update_profile(user.pk)
    return user


def test_export_lists_everything_held(alice, capsys):
    data = export_user_data(alice)
    assert [e["type"] for e in data["events"]] == ["view", "purchase", "search"]
    assert data["events"][1]["quantity"] == 2
    assert data["profiles"] and data["profiles"][0]["vector_dimensions"] == 4
    assert [q["query"] for q in data["search_log"]] == ["red coat"]
    call_command("recommender_export_user", "alice")
    assert json.loads(capsys.readouterr().out)["user"]["username"] == "alice"


def test_delete_removes_personal_rows_and_keeps_anonymous_aggregates(alice, vector_shop):
    bob = get_user_model().objects.create_user("bob")
    record_event("view", user=bob, product_key=vector_shop["bag-a"])
    counts = delete_user_data(alice)
    assert counts["events"] == 3 and counts["profiles"] == 1
    assert not Event.objects.filter(user=alice).exists() and not Profile.objects.filter(user=alice).exists()
    assert SearchQuery.objects.get().session_hash == ""  # the query text stays, unlinked
    assert Event.objects.filter(user=bob).count() == 1  # nobody else's data goes


def test_host_deleting_the_user_removes_their_data(alice, vector_shop):
    record_event("view", session_key="anon-1", product_key=vector_shop["bag-a"])  # a later anonymous visit
    alice.delete()
    assert not Event.objects.exists() and not Profile.objects.exists()


def test_delete_command_needs_confirmation(alice):
    with pytest.raises(CommandError, match="--yes"):
        call_command("recommender_delete_user", "alice")
    assert Event.objects.filter(user=alice).exists()
    call_command("recommender_delete_user", "alice", "--yes")
    assert not Event.objects.filter(user=alice).exists()
    with pytest.raises(CommandError, match="No user"):
        call_command("recommender_export_user", "nobody")


def test_retention_prunes_old_events(vector_shop):
    record_event(
        "view", session_key="s", product_key=vector_shop["dress-a"], created_at=timezone.now() - timedelta(days=400)
    )
    record_event("view", session_key="s", product_key=vector_shop["dress-b"])
    assert prune_events(365) == 1
    assert list(Event.objects.values_list("product_key", flat=True)) == [vector_shop["dress-b"]]


def not_personal(reason: str) -> bool:
    """A cold-start reason: popular products, topped up with the catalogue's newest."""
    return reason == "Trending now" or reason.startswith("New in")


def test_one_shopper_never_sees_anothers_history(vector_shop):
    a, b = get_user_model().objects.create_user("a"), get_user_model().objects.create_user("b")
    record_event("view", user=a, product_key=vector_shop["shoes-a"])
    assert recommend("recently_viewed", user=b).items == []
    assert recommend("recently_viewed", session_key="anon").items == []
    assert [i.product_key for i in recommend("recently_viewed", user=a).items] == [vector_shop["shoes-a"]]
    # b's for-you is the cold start, not a's profile
    assert all(not_personal(i.reason) for i in recommend("for_you", user=b).items)


# --- opting out of personalisation -------------------------------------------------------------


def _opt(user, enabled: bool, capture) -> bool:
    """set_personalisation with its after-commit work (cache, profile rebuild) run."""
    with capture(execute=True):
        return set_personalisation(user, enabled)


def test_opting_out_deletes_profiles_and_forgets_cached_results(alice, vector_shop, django_capture_on_commit_callbacks):
    version = serving_version()
    Profile.objects.create(session_key="anon-1", version=version, vector=[1.0, 0.0, 0.0, 0.0])  # merged session's
    before = recommend("for_you", user=alice, limit=3)  # now cached
    assert before.items and all(i.reason.startswith("Because you") for i in before.items)
    assert Profile.objects.filter(user=alice).exists() and personalisation_enabled(alice)

    assert _opt(alice, False, django_capture_on_commit_callbacks) is True
    assert _opt(alice, False, django_capture_on_commit_callbacks) is False  # idempotent

    assert not personalisation_enabled(alice) and not personalisation_enabled(alice.pk)
    assert personalisation_enabled(None)  # anonymous shoppers cannot opt out
    assert not Profile.objects.exists()
    after = recommend("for_you", user=alice, limit=3)
    assert after.items and all(not_personal(i.reason) for i in after.items)
    assert recommend("recently_viewed", user=alice).items == []


def test_opted_out_user_gets_no_profile_and_non_personal_results(vector_shop, django_capture_on_commit_callbacks):
    user = get_user_model().objects.create_user("carol")
    _opt(user, False, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):  # the queued profile update runs (eager)
        for name in ("coat-a", "coat-b", "coat-a"):
            record_event("view", user=user, session_key="carol-tab", product_key=vector_shop[name])
        record_event("purchase", user=user, product_key=vector_shop["coat-c"])
        record_event("search", user=user, query="warm coat", result_count=3)

    # Events are kept (for aggregates) and marked processed, but nothing personal is built.
    assert Event.objects.filter(user=user).count() == 5
    assert not Event.objects.filter(user=user, processed=False).exists()
    assert not Profile.objects.exists()
    version = serving_version()
    assert update_profile(user.pk) is None and rebuild_profiles(days=None) == 0
    assert get_profile_vector(user.pk, "", version) is None
    assert not Profile.objects.exists()

    for_you = recommend("for_you", user=user, limit=4)
    assert for_you.items and all(not_personal(i.reason) for i in for_you.items)
    assert recommend("recently_viewed", user=user).items == []
    # Trending is an aggregate over everyone: her views still count there.
    assert names(recommend("trending", limit=2), vector_shop) == ["coat-c", "coat-a"]  # a purchase counts 5 views
    # Nor is anything hidden from her because of her history: her purchase is not excluded.
    assert names(recommend("trending", user=user, limit=2), vector_shop) == ["coat-c", "coat-a"]

    # A profile row that slipped in (an update racing the opt-out) is never used, and the next
    # update removes it.
    Profile.objects.create(user=user, version=version, vector=[0.0, 1.0, 0.0, 0.0])
    assert stored_profile(user.pk, "", version) is None  # no personal search boost
    assert get_profile_vector(user.pk, "", version) is None
    assert all(not_personal(i.reason) for i in recommend("for_you", user=user, limit=4).items)
    update_profile(user.pk)
    assert not Profile.objects.exists()


def test_opted_out_user_logging_in_merges_no_profile(vector_shop, django_capture_on_commit_callbacks):
    user = get_user_model().objects.create_user("dave")
    _opt(user, False, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        record_event("view", session_key="dave-anon", product_key=vector_shop["shoes-a"])
    assert Profile.objects.filter(session_key="dave-anon").exists()  # anonymous: personalised
    with django_capture_on_commit_callbacks(execute=True):
        assert merge_session("dave-anon", user) == 1
    assert not Profile.objects.exists()
    assert recommend("recently_viewed", user=user).items == []


def test_opting_back_in_rebuilds_the_profile(vector_shop, django_capture_on_commit_callbacks):
    user = get_user_model().objects.create_user("erin")
    _opt(user, False, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        record_event("view", user=user, product_key=vector_shop["bag-a"])
    assert recommend("recently_viewed", user=user).items == []  # cached empty

    assert _opt(user, True, django_capture_on_commit_callbacks) is True
    assert _opt(user, True, django_capture_on_commit_callbacks) is False

    assert personalisation_enabled(user) and not PersonalisationOptOut.objects.exists()
    assert Profile.objects.filter(user=user).exists()  # rebuilt from the events kept meanwhile
    assert stored_profile(user.pk, "", serving_version()) is not None
    assert names(recommend("recently_viewed", user=user), vector_shop) == ["bag-a"]
    warm = recommend("for_you", user=user, limit=3)
    own = {vector_shop["bag-a"]: "Picked for you"}  # a product is never explained by itself
    assert names(warm, vector_shop)[:2] == ["bag-a", "bag-b"] and all(
        i.reason == own.get(i.product_key, "Because you viewed bag-a") for i in warm.items
    )


def test_opted_out_user_gets_no_behaviour_model_vector(
    vector_shop,
    behaviour_settings,
    django_capture_on_commit_callbacks,
):
    from recommender.behaviour.serving import behaviour_user_vector

    _events(vector_shop)
    call_command("recommender_train", "--activate", "--name", "t", "--epochs", "2", verbosity=0)
    user = get_user_model().objects.create_user("fay")
    _view(vector_shop, "fay-anon", ["dress-a", "coat-a"])
    Event.objects.filter(session_key="fay-anon").update(user=user)
    assert behaviour_user_vector(user.pk) is not None

    _opt(user, False, django_capture_on_commit_callbacks)

    assert behaviour_user_vector(user.pk) is None
    assert all(not_personal(i.reason) for i in recommend("for_you", user=user, limit=3).items)


def test_export_shows_the_flag_and_deletion_keeps_the_choice(alice, capsys, django_capture_on_commit_callbacks):
    assert export_user_data(alice)["personalisation"] == {"enabled": True, "opted_out_at": None}
    _opt(alice, False, django_capture_on_commit_callbacks)
    call_command("recommender_export_user", "alice")
    exported = json.loads(capsys.readouterr().out)
    assert exported["personalisation"]["enabled"] is False
    assert exported["personalisation"]["opted_out_at"] == PersonalisationOptOut.objects.get().created_at.isoformat()
    assert exported["profiles"] == [] and len(exported["events"]) == 3

    delete_user_data(alice)  # erasing the data does not silently opt the user back in
    assert not personalisation_enabled(alice)
    alice.delete()  # the flag goes with the user
    assert not PersonalisationOptOut.objects.exists()


def test_admin_opt_out_and_back_in_go_through_set_personalisation(
    alice, admin_client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    update_profile(alice.pk)
    assert Profile.objects.filter(user=alice).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:recommender_personalisationoptout_add"), {"user": alice.pk})
    assert response.status_code == 302, response.content[:2000]
    assert not personalisation_enabled(alice)
    assert not Profile.objects.filter(user=alice).exists()  # deleted on opt-out, as the function does

    row = PersonalisationOptOut.objects.get(user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:recommender_personalisationoptout_delete", args=[row.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert personalisation_enabled(alice)
    assert Profile.objects.filter(user=alice).exists()  # rebuilt from her events on opting back in
