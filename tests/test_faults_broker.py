"""The broker goes down while shoppers act and the shop saves products; real processes throughout.

The web side is this process (real HTTP to ``live_server``, its Celery app pointed at a private
``redis-server`` that is then stopped); the worker is a real ``celery -A tasks worker``. While
the broker is down, events are stored and answered 201 but no profile moves; saved products
are marked pending. Once the broker is back, the beat tasks run on the worker and everything
catches up exactly once.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils.crypto import get_random_string

from recommender.events import SESSION_ID_KEY
from recommender.models import Event, ProductVector, Profile
from recommender.versions import activate, register_encoder_version, serving_version
from tests.conftest import VECTOR_SHOP_FAMILIES
from tests.factories import product_with_image
from tests.worker import Broker, private_redis, running_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Generous: a request that has not answered by then hangs on the broker (the bug this guards).
REQUEST_TIMEOUT = 30


@pytest.fixture
def web_broker() -> Iterator[Callable[[str], None]]:
    """Point this process's Celery app (the web side) at a real broker, not eager; restored after."""
    from tasks.celery import app

    saved = (app.conf.broker_url, app.conf.task_always_eager)

    def use(url: str, eager: bool = False) -> None:
        app.conf.broker_url = url
        app.conf.task_always_eager = eager
        app._pool = None  # connection and producer pools are cached per URL: drop them with it
        app.amqp._producer_pool = None

    yield use
    use(*saved)


@dataclass
class Shopper:
    """A browser-like client of the real API: an anonymous session cookie, or a logged-in user."""

    base_url: str
    name: str
    favourite: str  # a product family of the vector shop
    user_id: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cookies: CookieJar = field(default_factory=CookieJar)

    def post_event(self, type: str, product_key: str) -> int:
        body = json.dumps({"type": type, "product_id": product_key}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/api/recommender/events/",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", **self.headers},
        )
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        try:
            with opener.open(request, timeout=REQUEST_TIMEOUT) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def session_id(self) -> str:
        """The anonymous shopper id the API kept in this client's Django session."""
        cookie = next(c.value for c in self.cookies if c.name == "sessionid")
        return SessionStore(session_key=cookie)[SESSION_ID_KEY]

    def owner(self) -> dict:
        return {"user_id": self.user_id} if self.user_id else {"user": None, "session_key": self.session_id()}


def logged_in_shopper(base_url: str, favourite: str) -> Shopper:
    """A user whose requests carry a real session cookie and CSRF token (enforced over HTTP)."""
    user = get_user_model().objects.create_user("broker-fault-user", password="x")
    client = Client()
    client.force_login(user)
    token = get_random_string(32)
    cookie = f"sessionid={client.cookies['sessionid'].value}; csrftoken={token}"
    return Shopper(base_url, "user", favourite, user.pk, {"Cookie": cookie, "X-CSRFToken": token})


def family_keys(vector_shop: dict[str, str], family: str) -> list[str]:
    return [key for name, key in vector_shop.items() if name.startswith(f"{family}-") and name != "dress-out"]


def test_events_while_the_broker_is_down_are_stored_and_caught_up_once(
    vector_shop, live_server, web_broker, tmp_path, caplog
):
    shoppers = [Shopper(live_server.url, f"anon-{family}", family) for family in ("dress", "coat", "shoes", "bag")]
    shoppers.append(logged_in_shopper(live_server.url, "coat"))
    plan = [
        (shopper, type_, key)
        for shopper in shoppers
        for type_, key in zip(
            ["view", "view", "click", "add_to_cart", "purchase"], family_keys(vector_shop, shopper.favourite) * 2
        )
    ]

    with private_redis(tmp_path) as redis:
        redis.stop()  # the broker goes down while the shop keeps running
        assert not redis.ping()
        web_broker(redis.url)
        statuses = [shopper.post_event(type_, key) for shopper, type_, key in plan]  # each returns: no hang

        assert statuses == [201] * len(plan)
        assert "Broker unavailable" in caplog.text  # the profile update really tried the dead broker
        assert Event.objects.count() == len(plan)
        assert not Event.objects.filter(processed=True).exists()
        assert not Profile.objects.exists()
        posted = {shopper.name: sum(1 for s, _, _ in plan if s is shopper) for shopper in shoppers}
        for shopper in shoppers:
            assert Event.objects.filter(**shopper.owner()).count() == posted[shopper.name]

        redis.start()
        broker = Broker(redis.url)
        with running_worker(broker, tmp_path / "worker.log") as worker:
            broker.app.send_task("recommender.process_pending_events")
            caught_up = wait_until(
                lambda: not Event.objects.filter(processed=False).exists() and Profile.objects.count() == len(shoppers),
                timeout=60,
            )
            assert caught_up, worker.log()[-3000:]
            assert "recommender.process_pending_events" in worker.log()

            # With the broker back, the web side publishes again: a new shopper's event is
            # processed by the worker's update_profile, with no beat run.
            newcomer = Shopper(live_server.url, "newcomer", "shoes")
            assert newcomer.post_event("view", family_keys(vector_shop, "shoes")[0]) == 201
            updated = wait_until(lambda: Profile.objects.filter(**newcomer.owner()).exists(), timeout=60)
            assert updated, worker.log()[-3000:]
            assert "recommender.update_profile" in worker.log()

    assert Event.objects.count() == len(plan) + 1  # nothing lost, nothing stored twice
    version = serving_version()
    for shopper in shoppers:
        profile = Profile.objects.get(version=version, **shopper.owner())
        assert profile.event_count == posted[shopper.name]
        # Every event was of the shopper's favourite family: the profile points along its axis.
        assert int(np.argmax(profile.vector)) == VECTOR_SHOP_FAMILIES[shopper.favourite]


def test_products_saved_while_the_broker_is_down_are_embedded_once_it_is_back(tiny_encoder, web_broker, tmp_path):
    version = activate(register_encoder_version(tiny_encoder))
    with private_redis(tmp_path) as redis:
        redis.stop()
        web_broker(redis.url)
        # The shop's own saves: post_save queues embedding after commit, the publish fails.
        products = [
            product_with_image(f"Outage product {i}", f"Saved during a broker outage, number {i}", (30 * i, 90, 160))
            for i in range(4)
        ]
        keys = sorted(str(p.pk) for p in products)
        rows = ProductVector.objects.filter(version=version)
        assert sorted(rows.values_list("product_key", flat=True)) == keys
        assert set(rows.values_list("status", flat=True)) == {"pending"}
        assert not rows.filter(embedding__isnull=False).exists()

        redis.start()
        broker = Broker(redis.url)
        with running_worker(broker, tmp_path / "worker.log") as worker:
            broker.app.send_task("recommender.embed_pending")
            done = wait_until(lambda: rows.filter(status="ok").count() == len(keys), timeout=90)
            assert done, worker.log()[-3000:]

    assert sorted(rows.values_list("product_key", flat=True)) == keys  # one row each, no duplicates
    assert not rows.filter(embedding__isnull=True).exists()
    assert not rows.filter(image_embedding__isnull=True).exists()  # the images were read too
