"""Export and deletion of a shopper's data, retention, and no leaks between shoppers."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from recommender.events import record_event
from recommender.models import Event, Profile, SearchQuery
from recommender.privacy import delete_user_data, export_user_data, prune_events, session_hash
from recommender.profiles import update_profile
from recommender.recommend import recommend
from tests.test_recommend import shop  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(shop):
    user = get_user_model().objects.create_user("alice")
    record_event("view", session_key="anon-1", product_key=shop["dress-a"])
    Event.objects.filter(session_key="anon-1").update(user=user)  # merged at login
    record_event("purchase", user=user, product_key=shop["coat-a"], quantity=2)
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


def test_delete_removes_personal_rows_and_keeps_anonymous_aggregates(alice, shop):
    bob = get_user_model().objects.create_user("bob")
    record_event("view", user=bob, product_key=shop["bag-a"])
    counts = delete_user_data(alice)
    assert counts["events"] == 3 and counts["profiles"] == 1
    assert not Event.objects.filter(user=alice).exists() and not Profile.objects.filter(user=alice).exists()
    assert SearchQuery.objects.get().session_hash == ""  # the query text stays, unlinked
    assert Event.objects.filter(user=bob).count() == 1  # nobody else's data goes


def test_host_deleting_the_user_removes_their_data(alice, shop):
    record_event("view", session_key="anon-1", product_key=shop["bag-a"])  # a later anonymous visit
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


def test_retention_prunes_old_events(shop):
    record_event("view", session_key="s", product_key=shop["dress-a"], created_at=timezone.now() - timedelta(days=400))
    record_event("view", session_key="s", product_key=shop["dress-b"])
    assert prune_events(365) == 1
    assert list(Event.objects.values_list("product_key", flat=True)) == [shop["dress-b"]]


def test_one_shopper_never_sees_anothers_history(shop):
    a, b = get_user_model().objects.create_user("a"), get_user_model().objects.create_user("b")
    record_event("view", user=a, product_key=shop["shoes-a"])
    assert recommend("recently_viewed", user=b).items == []
    assert recommend("recently_viewed", session_key="anon").items == []
    assert [i.product_key for i in recommend("recently_viewed", user=a).items] == [shop["shoes-a"]]
    # b's for-you is the cold start, not a's profile
    assert all(i.reason == "Trending now" for i in recommend("for_you", user=b).items)
