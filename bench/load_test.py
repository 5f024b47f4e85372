"""A bounded loopback load test: gunicorn serving the REST API, a threaded client, 60 seconds.

    python bench/load_test.py [--products 3000] [--events 10000] [--duration 60] [--workers 4]

Builds a demo-sized catalog on its own embedded Postgres in ``var/bench-load`` (the demo's
settings through ``bench/load_settings.py``; ``DATABASE_URL`` wins when set, and its tables are
emptied) with ``bench/api_latency.py``'s data builder: random products with clustered 384-d
vectors in an active encoder version (HNSW) and synthetic visits. Then starts gunicorn (sync
workers) on 127.0.0.1 and drives it with a client of plain threads (``http.client``, one
connection per request, as gunicorn's sync workers close them) sending a fixed mix of
``POST events/`` and the recommendation GETs as 20 logged-in shoppers with history (session
cookie and CSRF token) and anonymous ones (whose session starts with their first event).

It ramps the number of client threads in short steps, takes the one with the highest
throughput, and runs it for ``--duration`` seconds: throughput, p50/p95 per endpoint, errors and
a per-second time series. Finally every event answered 201 (ramp included) is looked up by id in
Postgres. Writes ``bench/results/load_test.json``, ``.md`` and ``.png``. The client runs on the
same machine as the server and Postgres: all three share its CPUs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
DATA_DIR = ROOT / "var" / "bench-load"
API = "/api/recommender"
REQUEST_TIMEOUT = 60  # seconds; a request slower than this counts as an error

# What a shop front asks for, per 100 requests: every page view shows a slot or two and posts
# an event (view, sometimes add-to-cart and purchase).
MIX = {
    "POST events/": 30,
    "GET similar/<id>/": 20,
    "GET for-you/": 15,
    "GET trending/": 10,
    "GET also-viewed/<id>/": 10,
    "GET recently-viewed/": 10,
    "GET bought-together/<id>/": 5,
}
EVENT_TYPES = {"view": 80, "add_to_cart": 10, "purchase": 10}
ANONYMOUS_PER_THREAD = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=3000)
    parser.add_argument("--events", type=int, default=10_000, help="synthetic history before the test")
    parser.add_argument("--duration", type=float, default=60, help="seconds of the measured run")
    parser.add_argument("--ramp", default="1,2,4,8,16,32", help="client threads to try, in order")
    parser.add_argument("--ramp-seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ.update(
        DJANGO_SETTINGS_MODULE="load_settings",
        SHOPDEMO_DATA_DIR=str(DATA_DIR),
        DJANGO_DEBUG="0",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(BENCH)]),
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path[:0] = [str(ROOT), str(BENCH)]
    import django

    django.setup()
    from api_latency import build_data
    from django.core.management import call_command
    from django.db import connection

    from recommender.models import Event

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    data = build_data(args.products, args.events, args.seed)
    build_seconds = time.perf_counter() - t0
    print(f"catalog and events ready in {build_seconds:.1f} s: {data['summary']}", flush=True)
    environment = describe_environment(args.workers)
    shoppers = logged_in_cookies(data["users"])
    plan = RequestPlan(data)
    last_event_before = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    connection.close()  # the driver stays idle while the server works

    server = start_server(args.workers)
    runs = []  # every run posts events: all of them are checked at the end
    try:
        runs.append(run_load(server.port, plan, shoppers, threads=4, seconds=8, seed=999))
        print(f"  warm-up: {runs[-1].summary(4)}", flush=True)
        ramp = []
        for threads in (int(n) for n in args.ramp.split(",")):
            runs.append(run_load(server.port, plan, shoppers, threads, args.ramp_seconds, args.seed + threads))
            ramp.append(runs[-1].summary(threads))
            print(f"  ramp: {ramp[-1]}", flush=True)
            if ramp[-1]["throughput_rps"] < 0.8 * max(s["throughput_rps"] for s in ramp):
                break  # past the knee: more threads only queue
        chosen = max((s for s in ramp if s["error_rate"] < 0.01), key=lambda s: s["throughput_rps"])
        threads = chosen["threads"]
        print(f"measured run: {threads} client threads for {args.duration:.0f} s", flush=True)
        main_run = run_load(server.port, plan, shoppers, threads, args.duration, args.seed)
        runs.append(main_run)
    finally:
        server.stop()
    stored = verify_events(runs, last_event_before)

    report = {
        "what": "loopback HTTP load test of the REST API: gunicorn + Postgres/pgvector, threaded client",
        "catalog": data["summary"],
        "build_seconds": round(build_seconds, 1),
        "server": f"gunicorn {server.version}, {args.workers} sync workers, 127.0.0.1",
        "mix_percent": MIX,
        "ramp_seconds": args.ramp_seconds,
        "ramp": ramp,
        "measured": main_run.summary(threads),
        "endpoints": main_run.per_endpoint(),
        "timeseries": main_run.timeseries(),
        "events_check": stored,
        "environment": environment,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load_test.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "load_test.md").write_text(markdown(report))
    plot(report, RESULTS / "load_test.png")
    print((RESULTS / "load_test.md").read_text())
    from recommender.embedded import stop_embedded

    if not os.environ.get("DATABASE_URL"):
        stop_embedded(DATA_DIR / "pgdata")


# --- server ----------------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    version: str

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of its workers
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(workers: int) -> Server:
    import gunicorn

    port = free_port()
    log = DATA_DIR / "gunicorn.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "shopdemo.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--timeout",
                "120",
                "--backlog",
                "2048",
                "--log-level",
                "warning",
                "--chdir",
                str(ROOT),
            ],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            if request(port, "GET", f"{API}/trending/")[0] == 200:
                return Server(process, port, gunicorn.__version__)
        except OSError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit(f"gunicorn did not answer within 120 s:\n{log.read_text()[-3000:]}")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """(status, body, Set-Cookie header) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Set-Cookie")
    finally:
        conn.close()


# --- shoppers and requests -------------------------------------------------------------------


def logged_in_cookies(users: list) -> list[dict[str, str]]:
    """Headers of logged-in shoppers: a real session (Django's test client login) and a CSRF token."""
    from django.test import Client
    from django.utils.crypto import get_random_string

    headers = []
    for user in users:
        client = Client()
        client.force_login(user)
        token = get_random_string(32)
        headers.append(
            {"Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={token}", "X-CSRFToken": token}
        )
    return headers


@dataclass
class Shopper:
    headers: dict[str, str] = field(default_factory=dict)
    anonymous: bool = True

    def remember(self, set_cookie: str | None) -> None:
        """An anonymous shopper keeps the session cookie its first event created."""
        if self.anonymous and set_cookie and "sessionid" not in self.headers.get("Cookie", ""):
            cookie = SimpleCookie()
            cookie.load(set_cookie)
            if "sessionid" in cookie:
                self.headers["Cookie"] = f"sessionid={cookie['sessionid'].value}"


class RequestPlan:
    """Random requests of the mix; product ids drawn as in bench/api_latency.py."""

    def __init__(self, data: dict) -> None:
        self.keys = [p.id for p in data["products"]]
        self.purchased = data["purchased"][:200]
        self.viewed = data["viewed"][:200]

    def pick(self, rng: random.Random) -> tuple[str, str, str, bytes | None]:
        endpoint = rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if endpoint == "POST events/":
            type_ = rng.choices(list(EVENT_TYPES), weights=list(EVENT_TYPES.values()))[0]
            body = json.dumps({"type": type_, "product_id": rng.choice(self.keys)}).encode()
            return endpoint, "POST", f"{API}/events/", body
        path = {
            "GET similar/<id>/": lambda: f"{API}/similar/{rng.choice(self.keys)}/",
            "GET also-viewed/<id>/": lambda: f"{API}/also-viewed/{rng.choice(self.viewed)}/",
            "GET bought-together/<id>/": lambda: f"{API}/bought-together/{rng.choice(self.purchased)}/",
            "GET for-you/": lambda: f"{API}/for-you/",
            "GET trending/": lambda: f"{API}/trending/",
            "GET recently-viewed/": lambda: f"{API}/recently-viewed/",
        }[endpoint]()
        return endpoint, "GET", path, None


@dataclass
class LoadRun:
    seconds: float
    started: float
    samples: list[tuple[float, str, int, float]] = field(default_factory=list)  # (done at, endpoint, status, ms)
    event_ids: set[int] = field(default_factory=set)
    created: int = 0

    def summary(self, threads: int) -> dict:
        ok = [s for s in self.samples if s[2] in (200, 201)]
        latencies = np.array([s[3] for s in ok]) if ok else np.zeros(1)
        errors = len(self.samples) - len(ok)
        return {
            "threads": threads,
            "requests": len(self.samples),
            "throughput_rps": round(len(ok) / self.seconds, 1),
            "p50_ms": round(float(np.percentile(latencies, 50)), 1),
            "p95_ms": round(float(np.percentile(latencies, 95)), 1),
            "errors": errors,
            "error_rate": round(errors / max(len(self.samples), 1), 4),
        }

    def per_endpoint(self) -> list[dict]:
        by_endpoint: dict[str, list] = defaultdict(list)
        for sample in self.samples:
            by_endpoint[sample[1]].append(sample)
        rows = []
        for endpoint in MIX:
            samples = by_endpoint.get(endpoint, [])
            ok = np.array([s[3] for s in samples if s[2] in (200, 201)] or [np.nan])
            rows.append(
                {
                    "endpoint": endpoint,
                    "requests": len(samples),
                    "throughput_rps": round(int(np.isfinite(ok).sum()) / self.seconds, 1),
                    "p50_ms": round(float(np.nanpercentile(ok, 50)), 1),
                    "p95_ms": round(float(np.nanpercentile(ok, 95)), 1),
                    "errors": sum(1 for s in samples if s[2] not in (200, 201)),
                }
            )
        return rows

    def timeseries(self) -> list[dict]:
        buckets: dict[int, list[float]] = defaultdict(list)
        for done, _, status, ms in self.samples:
            if status in (200, 201):
                buckets[int(done - self.started)].append(ms)
        return [
            {
                "second": s,
                "rps": len(buckets[s]),
                "p50_ms": round(float(np.percentile(buckets[s], 50)), 1) if buckets[s] else None,
                "p95_ms": round(float(np.percentile(buckets[s], 95)), 1) if buckets[s] else None,
            }
            for s in range(int(self.seconds))
        ]


def run_load(port: int, plan: RequestPlan, users: list[dict[str, str]], threads: int, seconds: float, seed: int):
    """``threads`` clients sending requests back to back for ``seconds``."""
    run = LoadRun(seconds, time.monotonic())
    deadline = run.started + seconds
    lock = threading.Lock()

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        mine = [Shopper(dict(users[index % len(users)]), anonymous=False)]
        mine += [Shopper() for _ in range(ANONYMOUS_PER_THREAD)]
        samples, ids, created = [], set(), 0
        while time.monotonic() < deadline:
            shopper = rng.choice(mine)
            endpoint, method, path, body = plan.pick(rng)
            headers = dict(shopper.headers)
            if body is not None:
                headers["Content-Type"] = "application/json"
            t0 = time.monotonic()
            try:
                status, content, set_cookie = request(port, method, path, body, headers)
            except OSError:
                status, content, set_cookie = 0, b"", None
            done = time.monotonic()
            samples.append((done, endpoint, status, (done - t0) * 1000))
            if status == 201:
                ids.add(json.loads(content)["id"])
                created += 1
                shopper.remember(set_cookie)
        with lock:
            run.samples.extend(samples)
            run.event_ids |= ids
            run.created += created

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    run.samples.sort()
    return run


def verify_events(runs: list[LoadRun], last_event_before: int) -> dict:
    """Every event answered 201 (warm-up, ramp and measured run) is in Postgres, and nothing else is."""
    from recommender.models import Event

    ids = set().union(*(run.event_ids for run in runs))
    created = sum(run.created for run in runs)
    found = Event.objects.filter(pk__in=ids).count()
    stored_since = Event.objects.filter(pk__gt=last_event_before).count()
    return {
        "answered_201": created,
        "distinct_ids": len(ids),
        "found_in_postgres": found,
        "stored_during_test": stored_since,
        "ok": created == len(ids) == found == stored_since,
    }


# --- report ----------------------------------------------------------------------------------


def describe_environment(workers: int) -> dict:
    from api_latency import environment

    env = environment()
    env["database"] = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded (var/bench-load)"
    env["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    env["gunicorn_workers"] = workers
    env["platform"] = platform.platform()
    return env


def markdown(report: dict) -> str:
    env, cat, m, check = report["environment"], report["catalog"], report["measured"], report["events_check"]
    mix = ", ".join(f"{k} {v} %" for k, v in report["mix_percent"].items())
    lines = [
        "# REST API under load (loopback HTTP)",
        "",
        (
            f"`python bench/load_test.py`: {report['server']}, demo settings (`bench/load_settings.py`: DEBUG off, "
            "persistent connections, event throttle raised, profile updates eager in the request as in the demo "
            f"without a broker). {cat['products']:,} products (384-d clustered random vectors, HNSW), "
            f"{cat['events']:,} synthetic events before the test. Client: threads with `http.client`, one connection "
            f"per request, on the same {env['cpu_count']}-CPU machine as gunicorn and Postgres (shared with other "
            f"work; load average before: {env['load_average_before']}). Mix: {mix}."
        ),
        "",
        f"## Ramp ({report['ramp_seconds']:.0f} s per step)",
        "",
        "| client threads | req/s | p50 ms | p95 ms | errors |",
        "|---:|---:|---:|---:|---:|",
    ]
    for s in report["ramp"]:
        lines.append(f"| {s['threads']} | {s['throughput_rps']} | {s['p50_ms']} | {s['p95_ms']} | {s['errors']} |")
    lines += [
        "",
        f"## Measured run: {m['threads']} client threads, {len(report['timeseries'])} s",
        "",
        (
            f"**{m['throughput_rps']} req/s** over {m['requests']:,} requests, p50 {m['p50_ms']} ms, "
            f"p95 {m['p95_ms']} ms, {m['errors']} errors."
        ),
        "",
        "| endpoint | requests | req/s | p50 ms | p95 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["endpoints"]:
        lines.append(
            f"| `{r['endpoint']}` | {r['requests']:,} | {r['throughput_rps']} | {r['p50_ms']} | {r['p95_ms']} "
            f"| {r['errors']} |"
        )
    verdict = "all stored" if check["ok"] else "MISMATCH"
    lines += [
        "",
        (
            f"Events: {check['answered_201']:,} answered 201 (warm-up, ramp and measured run), {check['distinct_ids']:,} "
            f"distinct ids, {check['found_in_postgres']:,} of them found in Postgres, {check['stored_during_test']:,} "
            f"stored during the test in all: {verdict}."
        ),
        "",
        (
            f"Machine: {env['cpu_count']} CPUs ({env['machine']}), Python {env['python']}, Django {env['django']}, "
            f"DRF {env['djangorestframework']}, {env['postgres']}, pgvector {env['pgvector']}, database "
            f"{env['database']}. Building the data took {report['build_seconds']} s. Time series: `load_test.png`."
        ),
        "",
    ]
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = report["timeseries"]
    seconds = [p["second"] for p in series]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(seconds, [p["rps"] for p in series], color="tab:blue")
    top.set_ylabel("requests / s")
    top.set_title(f"REST API under load: {report['measured']['threads']} client threads, {report['server']}")
    top.set_ylim(bottom=0)
    bottom.plot(seconds, [p["p50_ms"] for p in series], label="p50")
    bottom.plot(seconds, [p["p95_ms"] for p in series], label="p95")
    bottom.set_ylabel("latency ms (all endpoints)")
    bottom.set_xlabel("second of the measured run")
    bottom.set_ylim(bottom=0)
    bottom.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
