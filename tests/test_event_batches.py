"""Batches of events on ``POST events/``: all or nothing, every bad event named, the throttle
counting events, every acknowledged event stored, profiles caught up by a real worker."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.cookiejar import CookieJar

import numpy as np
import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from rest_framework.test import APIClient

from recommender.events import SESSION_ID_KEY, EventBatchError, EventError, record_events
from recommender.models import Event, Profile, SlotStat
from recommender.versions import serving_version
from tasks.celery import app
from tests.conftest import VECTOR_SHOP_FAMILIES
from tests.test_faults_broker import web_broker  # noqa: F401 - the fixture
from tests.worker import Broker, filesystem_broker, running_worker, wait_until

URL = "/api/recommender/events/"


def post(client: APIClient, body: object, **headers: str):
    return client.post(URL, json.dumps(body), content_type="application/json", **headers)


@pytest.mark.django_db
def test_a_batch_is_stored_in_one_go_and_answered_in_order(vector_shop):
    client = APIClient()
    keys = [vector_shop["dress-a"], vector_shop["coat-a"], vector_shop["bag-a"]]
    body = {"events": [{"type": "view", "product_id": k} for k in keys] + [{"type": "search", "query": "red coat"}]}

    response = post(client, body)

    assert response.status_code == 201, response.content
    stored = response.json()["events"]
    assert [e["type"] for e in stored] == ["view", "view", "view", "search"]
    assert [e["product_id"] for e in stored] == [*keys, None]
    rows = Event.objects.filter(pk__in=[e["id"] for e in stored])
    assert rows.count() == 4
    assert len({r.session_key for r in rows}) == 1  # one shopper: the request's session
    # A single event keeps its own reply shape.
    single = post(client, {"type": "view", "product_id": keys[0]})
    assert single.status_code == 201 and set(single.json()) == {"id", "type", "product_id", "created_at"}


@pytest.mark.django_db
def test_one_bad_event_stores_nothing_and_every_bad_one_is_named(vector_shop):
    good = {"type": "view", "product_id": vector_shop["dress-a"]}
    body = {
        "events": [
            good,
            {"type": "view", "product_id": "no-such-product"},
            good,
            {"type": "add_to_cart", "product_id": vector_shop["coat-a"], "quantity": 0},
            {"type": "teleport"},
            {"type": "click", "product_id": vector_shop["bag-a"], "slot": "made-up"},
        ]
    }

    response = post(APIClient(), body)

    assert response.status_code == 400
    messages = response.json()["events"]
    assert messages[0] == "Event 2 (product_id): Unknown product 'no-such-product'."
    assert messages[1].startswith("Event 4 (quantity): ")
    assert messages[2].startswith("Event 5 (type): ")
    assert messages[3].startswith("Event 6 (slot): Unknown slot 'made-up'")
    assert len(messages) == 4
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_the_python_api_stores_a_batch_all_or_none(vector_shop, user):
    events = [{"type": "view", "product_key": vector_shop["dress-a"]}, {"type": "purchase", "product_key": "nope"}]
    with pytest.raises(EventBatchError) as raised:
        record_events(events, user=user)
    assert list(raised.value.errors) == [1] and raised.value.errors[1].field == "product_id"
    assert not Event.objects.exists()

    stored = record_events(events[:1] * 3, user=user)
    assert [e.pk for e in stored] == list(Event.objects.order_by("pk").values_list("pk", flat=True))


@pytest.mark.django_db
def test_batch_size_is_bounded_by_a_setting(vector_shop, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "EVENTS_MAX_BATCH": 3}
    event = {"type": "view", "product_id": vector_shop["dress-a"]}
    client = APIClient()

    too_many = post(client, {"events": [event] * 4})
    assert too_many.status_code == 400
    assert too_many.json() == {"events": ["At most 3 events per request; got 4."]}
    assert post(client, {"events": []}).json() == {"events": ["A batch needs at least one event."]}
    assert post(client, {"events": "view"}).status_code == 400
    assert not Event.objects.exists()
    assert post(client, {"events": [event] * 3}).status_code == 201
    with pytest.raises(EventError):
        record_events([{"type": "view", "product_key": vector_shop["dress-a"]}] * 4, session_key="s")


@pytest.mark.django_db
def test_the_throttle_counts_events_not_requests(vector_shop, settings):
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-events": "5/min"}}
    event = {"type": "view", "product_id": vector_shop["dress-a"]}
    client = APIClient()

    assert post(client, {"events": [event] * 3}).status_code == 201
    assert post(client, {"events": [event] * 3}).status_code == 429  # 3 + 3 > 5: refused whole
    assert post(client, event).status_code == 201
    assert post(client, event).status_code == 201
    assert post(client, event).status_code == 429
    assert Event.objects.count() == 5


@pytest.mark.django_db
def test_cross_site_batches_are_refused(vector_shop):
    body = {"events": [{"type": "view", "product_id": vector_shop["dress-a"]}]}
    response = post(APIClient(), body, HTTP_SEC_FETCH_SITE="cross-site")
    assert response.status_code == 403
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_batched_clicks_and_purchases_count_as_single_ones_do(vector_shop):
    SlotStat.objects.create(day=timezone.localdate(), slot="api", strategy="similar", impressions=1)
    key = vector_shop["dress-a"]
    body = {
        "events": [
            {"type": "click", "product_id": key, "slot": "api", "strategy": "similar"},
            {"type": "purchase", "product_id": key},
        ]
    }
    assert post(APIClient(), body).status_code == 201
    stat = SlotStat.objects.get(slot="api", strategy="similar")
    assert (stat.clicks, stat.conversions) == (1, 1)


# --- the real server and a real worker --------------------------------------------------------


class HttpShopper:
    """An anonymous browser: keeps the session cookie its first request gets."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def post(self, body: object) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.base_url + URL,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, {}

    def owner(self) -> dict:
        cookie = next(c.value for c in self.cookies if c.name == "sessionid")
        return {"user": None, "session_key": SessionStore(session_key=cookie)[SESSION_ID_KEY]}


def family_keys(vector_shop: dict[str, str], family: str) -> list[str]:
    return [key for name, key in vector_shop.items() if name.startswith(f"{family}-") and name != "dress-out"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_acknowledged_event_is_stored_and_profiles_catch_up(vector_shop, live_server, web_broker, tmp_path):  # noqa: F811
    broker = filesystem_broker(tmp_path)  # the test's own queue: no other test's worker takes from it
    web_broker(broker.url)
    saved_options = app.conf.broker_transport_options
    app.conf.broker_transport_options = broker.transport_options
    try:
        run_shoppers_and_worker(vector_shop, live_server.url, broker, tmp_path)
    finally:
        app.conf.broker_transport_options = saved_options


def run_shoppers_and_worker(vector_shop: dict[str, str], base_url: str, broker: Broker, tmp_path) -> None:
    families = list(VECTOR_SHOP_FAMILIES)
    shoppers = [HttpShopper(base_url) for _ in families]
    acknowledged: dict[int, list[int]] = {i: [] for i in range(len(shoppers))}
    statuses: list[int] = []

    def shop(index: int) -> None:
        keys = family_keys(vector_shop, families[index])
        for round_ in range(6):  # batches of 1..6 events, then a single one
            events = [{"type": "view", "product_id": keys[(round_ + j) % len(keys)]} for j in range(round_ + 1)]
            status, reply = shoppers[index].post({"events": events})
            statuses.append(status)
            acknowledged[index] += [e["id"] for e in reply.get("events", [])]
        status, reply = shoppers[index].post({"type": "add_to_cart", "product_id": keys[0]})
        statuses.append(status)
        acknowledged[index] += [reply["id"]] if status == 201 else []

    with running_worker(broker, tmp_path / "worker.log") as worker:
        threads = [threading.Thread(target=shop, args=(i,)) for i in range(len(shoppers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert statuses == [201] * len(statuses)
        ids = [i for ids in acknowledged.values() for i in ids]
        assert len(ids) == len(set(ids)) == len(shoppers) * (21 + 1)
        assert Event.objects.filter(pk__in=ids).count() == len(ids) == Event.objects.count()
        caught_up = wait_until(
            lambda: not Event.objects.filter(processed=False).exists() and Profile.objects.count() == len(shoppers),
            timeout=90,
        )
        assert caught_up, worker.log()[-3000:]
        assert "recommender.update_profile" in worker.log()

    version = serving_version()
    for index, shopper in enumerate(shoppers):
        owner = shopper.owner()
        assert sorted(Event.objects.filter(**owner).values_list("pk", flat=True)) == sorted(acknowledged[index])
        profile = Profile.objects.get(version=version, **owner)
        assert profile.event_count == len(acknowledged[index])
        assert int(np.argmax(profile.vector)) == VECTOR_SHOP_FAMILIES[families[index]]
