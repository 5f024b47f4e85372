"""A real Celery worker process for tests, over a real broker.

    with running_worker(broker) as worker:
        broker.app.send_task("recommender.sync_product_fields", args=[keys])

``filesystem_broker(tmp_path)`` needs no server; ``redis_broker()`` uses ``REDIS_URL``.
``private_redis(tmp_path)`` runs a ``redis-server`` of the test's own, to stop and start again
(a broker outage) without disturbing the shared one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from celery import Celery
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Broker:
    url: str
    transport_options: dict = field(default_factory=dict)

    @property
    def app(self) -> Celery:
        """A client app that sends tasks by name to this broker (no result backend)."""
        app = Celery("test-client", broker=self.url, set_as_current=False)
        app.conf.broker_transport_options = self.transport_options
        app.conf.task_default_queue = "celery"
        return app


def filesystem_broker(tmp_path: Path) -> Broker:
    queue_dir = tmp_path / "broker"
    (queue_dir / "processed").mkdir(parents=True)
    options = {
        "data_folder_in": str(queue_dir),
        "data_folder_out": str(queue_dir),
        "processed_folder": str(queue_dir / "processed"),
        "store_processed": False,
        "control_folder": str(queue_dir / "control"),
    }
    return Broker("filesystem://", options)


def redis_broker() -> Broker | None:
    url = os.environ.get("REDIS_URL")
    return Broker(url) if url else None


@dataclass
class RedisServer:
    """A ``redis-server`` child process on a fixed port: ``stop()`` is a broker outage, ``start()``
    brings the same broker back (empty: nothing is persisted)."""

    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self.log_path, "a") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not wait_until(lambda: self.ping() or self.process.poll() is not None, timeout=30, interval=0.05):
            raise RuntimeError(f"redis-server did not answer on port {self.port}")
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited at start:\n{self.log_path.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A started ``redis-server`` of this test's own (skips the test where none is installed)."""
    if shutil.which("redis-server") is None:
        import pytest

        pytest.skip("redis-server is not installed (.ci/run installs it).")
    server = RedisServer(free_port(), tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-task with no chance to ack or clean up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def worker_env(broker: Broker) -> dict[str, str]:
    """The worker sees the test database, the broker and the test's own settings overrides."""
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        RECOMMENDER_TEST_WORKER_DB=connection.settings_dict["NAME"],
        CELERY_BROKER_URL=broker.url,
        CELERY_BROKER_TRANSPORT_OPTIONS=json.dumps(broker.transport_options),
        PYTHONPATH=str(ROOT),
        RECOMMENDER_TEST_OVERRIDES=json.dumps(settings.RECOMMENDER, default=str),
        RECOMMENDER_TEST_MEDIA_ROOT=str(settings.MEDIA_ROOT),
    )
    return env


@contextmanager
def running_worker(broker: Broker, log_path: Path, queues: str | None = "celery,embeddings") -> Iterator[WorkerProcess]:
    """Start ``celery -A tasks worker`` and wait until it is ready; stop it afterwards.

    ``queues=None`` starts the plain documented command (no ``-Q``: Celery's default queue only).
    """
    queue_args = ["-Q", queues] if queues else []
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tasks",
                "worker",
                "-l",
                "info",
                "--pool",
                "solo",
                *queue_args,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=worker_env(broker),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        worker = WorkerProcess(process, log_path)
        try:
            wait_until(lambda: "ready." in worker.log() or process.poll() is not None, timeout=90)
            if process.poll() is not None:
                raise RuntimeError(f"Celery worker exited at start:\n{worker.log()}")
            yield worker
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


def wait_until(condition: Callable[[], bool], timeout: float = 60, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False
