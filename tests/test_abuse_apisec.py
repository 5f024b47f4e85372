"""Issue 15, the serving holes of the security review (docs/security.md, findings 2, 4, 6, 7).

Each test replays what the reviewer did, on the real stack: URLconf, middleware, DRF, Postgres.
"""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from rest_framework.test import APIClient

from recommender.checks import check_trusted_proxies
from recommender.proxies import client_address, parse_proxies

pytestmark = pytest.mark.django_db


def url(name: str, *args: str) -> str:
    return reverse(f"recommender_api:{name}", args=args)


def post_event(client: APIClient, headers: dict | None = None, **payload):
    return client.post(url("events"), payload, format="json", headers=headers or {})


def logged_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


# --- 2: the event throttle and X-Forwarded-For ---------------------------------------------


def test_a_made_up_x_forwarded_for_does_not_reset_the_throttle(vector_shop, settings):
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-events": "3/min"}}
    client = APIClient()
    product = vector_shop["coat-a"]
    statuses = [post_event(client, {"X-Forwarded-For": "10.0.0.1"}, type="view", product_id=product).status_code
                for _ in range(4)]  # fmt: skip
    assert statuses == [201, 201, 201, 429]
    for fake in ("10.0.0.2", "203.0.113.9, 10.0.0.3", "garbage"):
        refused = post_event(APIClient(), {"X-Forwarded-For": fake}, type="view", product_id=product)
        assert refused.status_code == 429, (fake, refused.content)


def test_declared_proxies_count_the_client_they_forward(vector_shop, settings):
    """Behind a declared proxy (the test client's 127.0.0.1) each client has its own budget."""
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-events": "2/min"}}
    product = vector_shop["coat-a"]
    for proxies in (["127.0.0.0/8"], 1):
        settings.RECOMMENDER = {**settings.RECOMMENDER, "TRUSTED_PROXIES": proxies}
        from django.core.cache import cache

        cache.clear()
        for client_ip in ("198.51.100.1", "198.51.100.2"):
            statuses = [
                post_event(APIClient(), {"X-Forwarded-For": client_ip}, type="view", product_id=product).status_code
                for _ in range(3)
            ]
            assert statuses == [201, 201, 429], (proxies, client_ip)
        # What the client itself wrote in front of the proxy's entry does not matter.
        spoofed = post_event(APIClient(), {"X-Forwarded-For": "1.2.3.4, 198.51.100.1"}, type="view", product_id=product)
        assert spoofed.status_code == 429


@pytest.mark.parametrize(
    "proxies, remote, forwarded, client",
    [
        (None, "192.0.2.1", "1.1.1.1", "192.0.2.1"),
        (0, "192.0.2.1", "1.1.1.1", "192.0.2.1"),
        (1, "10.0.0.5", "1.1.1.1, 8.8.8.8", "8.8.8.8"),
        (2, "10.0.0.5", "1.1.1.1, 8.8.8.8, 10.0.0.4", "8.8.8.8"),
        (3, "10.0.0.5", "8.8.8.8", "8.8.8.8"),  # fewer hops than proxies: the leftmost
        (["10.0.0.0/8"], "10.0.0.5", "1.1.1.1, 8.8.8.8, 10.0.0.4", "8.8.8.8"),
        (["10.0.0.0/8"], "192.0.2.1", "8.8.8.8", "192.0.2.1"),  # not through a proxy: the header is ignored
        (["10.0.0.0/8", "::1"], "::1", "[2001:db8::1]:443", "[2001:db8::1]:443"),
        (["10.0.0.0/8"], "10.0.0.5", "8.8.8.8:1234, 10.1.1.1:80", "8.8.8.8:1234"),
        (["10.0.0.0/8"], "10.0.0.5", "10.0.0.7", "10.0.0.7"),  # all proxies: the leftmost
        (["10.0.0.0/8"], "10.0.0.5", "", "10.0.0.5"),
    ],
)  # fmt: skip
def test_client_address(proxies, remote, forwarded, client):
    meta = {"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": forwarded}
    assert client_address(meta, parse_proxies(proxies)) == client


@pytest.mark.parametrize("bad", [-1, "10.0.0.1", ["10.0.0.0/33"], ["proxy.local"], {"a": 1}, 1.5])
def test_unusable_trusted_proxies_are_a_clear_error(settings, bad):
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        parse_proxies(bad)
    settings.RECOMMENDER = {**settings.RECOMMENDER, "TRUSTED_PROXIES": bad}
    assert [message.id for message in check_trusted_proxies()] == ["recommender.E006"]


def test_forwarded_header_without_declared_proxies_warns_once(vector_shop, settings, caplog):
    assert check_trusted_proxies() == []
    with caplog.at_level(logging.WARNING, logger="recommender.proxies"):
        for _ in range(3):
            post_event(APIClient(), {"X-Forwarded-For": "1.2.3.4"}, type="view", product_id=vector_shop["coat-a"])
    assert sum("TRUSTED_PROXIES" in r.getMessage() for r in caplog.records) == 1
    warnings = check_trusted_proxies()
    assert [w.id for w in warnings] == ["recommender.W002"] and "TRUSTED_PROXIES" in warnings[0].hint
    settings.RECOMMENDER = {**settings.RECOMMENDER, "TRUSTED_PROXIES": ["10.0.0.0/8"]}
    assert check_trusted_proxies() == []  # declared: nothing to warn about
    settings.RECOMMENDER = {**settings.RECOMMENDER, "TRUSTED_PROXIES": None}
    settings.REST_FRAMEWORK = {"NUM_PROXIES": 1}
    assert check_trusted_proxies() == []  # declared to DRF: honoured as well
