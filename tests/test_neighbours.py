"""Neighbour tables: "bought together" and "also viewed" counted by the worker, read by the page.

The table must give exactly what the live count over events gives (every product, both kinds,
on a random history with users, anonymous sessions, repeats, several days and views older than
the window), be what serving reads once built, be replaced whole by a recount, leave crawlers
out, and run through the command, the admin and a real Celery worker.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from recommender import neighbours
from recommender.models import Event, NeighbourBuild, ProductNeighbour
from recommender.neighbours import ALSO_VIEWED_WINDOW_DAYS, refresh_neighbours
from recommender.recommend import recommend
from recommender.strategies.base import Context
from recommender.strategies.cooccurrence import also_viewed, bought_together
from tests.factories import names
from tests.worker import filesystem_broker, running_worker, wait_until

pytestmark = pytest.mark.django_db

KEYS = [f"p{i:02d}" for i in range(14)]
STRATEGIES = {"bought_together": bought_together, "also_viewed": also_viewed}


def random_history(seed: int = 7) -> None:
    """Purchases and views of 40 shoppers (a third anonymous) over 120 days, with repeats."""
    rng = random.Random(seed)
    users = [get_user_model().objects.create_user(f"shopper{i}") for i in range(26)]
    owners = [{"user": u} for u in users] + [{"session_key": f"anon{i}"} for i in range(14)]
    # Baskets are UTC days: anchored at 23:00 UTC yesterday, an event up to 10 hours earlier stays
    # on its day whatever the hour the test runs (anchored at now, the baskets split near midnight).
    now = timezone.now().replace(hour=23, minute=0, second=0, microsecond=0) - timedelta(days=1)
    events = []
    for owner in owners:
        taste = rng.sample(KEYS, 6)  # shoppers share products: pairs get support
        for _ in range(rng.randint(2, 14)):
            kind = rng.choice(["view", "view", "click", "purchase", "purchase"])
            day = rng.choice([0, 0, 1, 2, 30, 100, 119])  # some views fall outside the 90-day window
            events.append(
                Event(
                    type=kind,
                    product_key=rng.choice(taste),
                    created_at=now - timedelta(days=day, minutes=rng.randint(0, 600)),
                    **owner,
                )
            )
    Event.objects.bulk_create(events)


def every_answer(limit: int = 10) -> dict[tuple[str, str], list[tuple[str, float]]]:
    answers = {}
    for kind, strategy in STRATEGIES.items():
        for key in KEYS:
            found = strategy(Context(version=None, limit=limit, product_key=key))
            answers[kind, key] = [(c.key, c.score) for c in found]
    return answers


def test_the_table_gives_exactly_the_live_count_for_every_product():
    random_history()
    live = every_answer()
    assert sum(bool(found) for found in live.values()) >= 10, "the history must make pairs to compare"
    assert any(live["also_viewed", k] for k in KEYS) and any(live["bought_together", k] for k in KEYS)
    reports = refresh_neighbours()
    assert {r.kind for r in reports} == set(STRATEGIES) and all(r.pairs > 0 for r in reports)
    assert every_answer() == live


def test_the_window_counts_only_recent_views_of_the_product_itself():
    old = timezone.now() - timedelta(days=ALSO_VIEWED_WINDOW_DAYS + 5)
    for shopper in ("a", "b"):
        Event.objects.create(type="view", session_key=shopper, product_key="p00", created_at=old)
        Event.objects.create(type="view", session_key=shopper, product_key="p01")
    refresh_neighbours(["also_viewed"])
    # p00's views are old: p00 shows nothing; p01's are recent and its viewers also saw p00 (any time).
    assert also_viewed(Context(version=None, limit=5, product_key="p00")) == []
    assert [c.key for c in also_viewed(Context(version=None, limit=5, product_key="p01"))] == ["p00"]


def test_once_built_the_page_reads_the_table_until_the_next_count():
    for shopper in ("a", "b"):
        for key in ("p00", "p01"):
            Event.objects.create(type="view", session_key=shopper, product_key=key)
    refresh_neighbours()
    for shopper in ("c", "d", "e"):  # after the count: p02 would now lead a live count
        for key in ("p00", "p02"):
            Event.objects.create(type="view", session_key=shopper, product_key=key)
    context = Context(version=None, limit=5, product_key="p00")
    assert [c.key for c in also_viewed(context)] == ["p01"]
    refresh_neighbours(["also_viewed"])
    assert [(c.key, c.score) for c in also_viewed(context)] == [("p02", 3.0), ("p01", 2.0)]


def test_a_recount_replaces_the_rows_and_the_build_record():
    random_history()
    first = refresh_neighbours()
    again = refresh_neighbours()
    assert [r.pairs for r in again] == [r.pairs for r in first]
    assert ProductNeighbour.objects.count() == sum(r.pairs for r in again)
    builds = {b.kind: b for b in NeighbourBuild.objects.all()}
    assert set(builds) == set(STRATEGIES)
    assert all(builds[r.kind].pairs == r.pairs and builds[r.kind].products == r.products for r in again)


def test_a_product_with_no_neighbours_reads_empty_from_a_built_table():
    refresh_neighbours()
    assert NeighbourBuild.objects.count() == 2 and ProductNeighbour.objects.count() == 0
    Event.objects.create(type="purchase", session_key="late", product_key="p00")
    Event.objects.create(type="purchase", session_key="late", product_key="p01")
    Event.objects.create(type="purchase", session_key="later", product_key="p00")
    Event.objects.create(type="purchase", session_key="later", product_key="p01")
    # Live this would be p01 (two baskets); the built table has nothing yet, and says so.
    assert bought_together(Context(version=None, limit=5, product_key="p00")) == []


def test_crawlers_and_huge_baskets_are_left_out(monkeypatch):
    monkeypatch.setattr(neighbours, "CRAWLER_PRODUCTS", 3)
    for shopper, keys in (("human", ["p00", "p01"]), ("crawler", ["p00", "p01", "p02", "p03"])):
        for key in keys:
            Event.objects.create(type="view", session_key=shopper, product_key=key)
            Event.objects.create(type="purchase", session_key=shopper, product_key=key)
    Event.objects.create(type="view", session_key="second", product_key="p00")
    Event.objects.create(type="view", session_key="second", product_key="p01")
    refresh_neighbours()
    # Without the crawler, p00-p01 has two viewers and one basket.
    assert set(ProductNeighbour.objects.values_list("kind", "product_key", "neighbour_key", "support")) == {
        ("also_viewed", "p00", "p01", 2),
        ("also_viewed", "p01", "p00", 2),
    }


def test_each_product_keeps_only_its_best_neighbours(monkeypatch):
    monkeypatch.setattr(neighbours, "KEPT", 2)
    for support, key in ((4, "p01"), (3, "p02"), (2, "p03")):
        for shopper in range(support):
            Event.objects.create(type="view", session_key=f"s{key}{shopper}", product_key="p00")
            Event.objects.create(type="view", session_key=f"s{key}{shopper}", product_key=key)
    refresh_neighbours(["also_viewed"])
    kept = ProductNeighbour.objects.filter(product_key="p00").order_by("-support")
    assert list(kept.values_list("neighbour_key", "support")) == [("p01", 4), ("p02", 3)]


def test_an_unknown_kind_is_refused_before_anything_changes():
    with pytest.raises(ValueError, match="Unknown neighbour kind"):
        refresh_neighbours(["also_viewed", "bought_by_cats"])
    assert not NeighbourBuild.objects.exists()


def test_recommend_serves_the_table_with_rules_and_stock(vector_shop):
    """Through recommend(): the table's neighbours pass the same stock filter as live ones."""
    for shopper in ("a", "b", "c"):
        for name in ("coat-a", "shoes-a", "dress-out"):
            Event.objects.create(type="view", session_key=shopper, product_key=vector_shop[name])
    live = names(recommend("also_viewed", product_key=vector_shop["coat-a"]), vector_shop)
    refresh_neighbours()
    served = recommend("also_viewed", product_key=vector_shop["coat-a"])
    assert names(served, vector_shop) == live == ["shoes-a"]  # dress-out is out of stock
    assert served.items[0].reason == "Customers who viewed this also viewed"


def test_the_command_counts_and_reports(capsys):
    random_history()
    call_command("recommender_neighbours", "--kind", "bought_together", verbosity=1)
    out = capsys.readouterr().out
    assert "bought_together:" in out and "pairs over" in out
    assert list(NeighbourBuild.objects.values_list("kind", flat=True)) == ["bought_together"]


def test_the_admin_lists_builds_and_counts_on_demand(admin_client):
    random_history()
    page = admin_client.get(reverse("admin:recommender_neighbourbuild_changelist"))
    assert page.status_code == 200 and b"Count now" in page.content
    assert admin_client.get(reverse("admin:recommender_neighbourbuild_count")).status_code == 405
    answer = admin_client.post(reverse("admin:recommender_neighbourbuild_count"), follow=True)
    assert answer.status_code == 200 and b"Counting the neighbours" in answer.content
    assert NeighbourBuild.objects.count() == 2  # eager in the tests: the task ran
    listed = admin_client.get(reverse("admin:recommender_neighbourbuild_changelist")).content
    assert b"customers also viewed" in listed and b"frequently bought together" in listed


def test_the_admin_count_needs_the_change_permission(client):
    from django.contrib.auth.models import Permission

    viewer = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_neighbourbuild"))
    client.force_login(viewer)
    page = client.get(reverse("admin:recommender_neighbourbuild_changelist"))
    assert page.status_code == 200 and b"Count now" not in page.content
    assert client.post(reverse("admin:recommender_neighbourbuild_count")).status_code == 403
    assert not NeighbourBuild.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_counts_the_neighbours(tmp_path):
    for shopper in ("a", "b"):
        for key in ("p00", "p01"):
            Event.objects.create(type="purchase", session_key=shopper, product_key=key)
    broker = filesystem_broker(tmp_path)
    with running_worker(broker, tmp_path / "worker.log") as worker:
        broker.app.send_task("recommender.refresh_neighbours")
        done = wait_until(lambda: NeighbourBuild.objects.count() == 2, timeout=60)
        assert done, f"the worker did not count:\n{worker.log()}"
    assert set(ProductNeighbour.objects.values_list("kind", "product_key", "neighbour_key", "support")) == {
        ("bought_together", "p00", "p01", 2),
        ("bought_together", "p01", "p00", 2),
    }
