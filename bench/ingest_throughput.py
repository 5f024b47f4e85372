"""Event ingestion under load: ``POST events/`` on gunicorn, a real Celery worker, 60 s per run.

    git worktree add /tmp/ingest-old <commit>      # the code to compare against ("before")
    python bench/ingest_throughput.py --before /tmp/ingest-old [--duration 60] [--workers 4]
        [--threads 8] [--batches 20,50] [--single] [--profile]

For each run (``before``: the old tree, one event per request, as its API accepts; ``after
single`` with ``--single``: this tree, one event per request; ``after N``: this tree, N events
per request for each N of ``--batches``, as a beacon flushing a page's events sends them) the demo catalog is rebuilt the same way on the embedded
Postgres in ``var/bench-ingest`` (``bench/api_latency.py``'s builder, ``bench/load_settings.py``
settings), gunicorn (sync workers) and a Celery worker (``celery -A tasks worker``, prefork, 1
process) are started from that run's code tree over Redis (``--redis``), and client threads
(``http.client``, one connection per request, anonymous shoppers keeping their session cookie,
plus logged-in ones with a CSRF token) post view / add-to-cart / purchase events for
``--duration`` seconds. Measured: events/s and requests/s acknowledged (201), p50/p95 request
latency, every acknowledged event id looked up in Postgres (stored = acknowledged), and the time
from the end of the load until the worker has processed every event (profiles caught up).
``--profile`` samples the gunicorn workers with py-spy for 20 s in each run (top of the profile
in ``bench/results/events_profile.md``). Writes ``bench/results/ingest_throughput.json``, ``.md``
and ``.png``. Client, server, worker and Postgres share the machine's CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from portable import portable  # bench/ is on sys.path when a bench runs as a script

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
DATA_DIR = ROOT / "var" / "bench-ingest"
API = "/api/recommender"
EVENT_TYPES = {"view": 80, "add_to_cart": 10, "purchase": 10}
ANONYMOUS_PER_THREAD = 4
CATCH_UP_LIMIT = 300  # seconds to wait for the worker after the load


@dataclass
class Mode:
    label: str
    tree: Path
    batch: int  # events per request; 0 = one bare event object per request


@dataclass
class Run:
    seconds: float
    started: float
    samples: list[tuple[float, int, float, int]] = field(default_factory=list)  # (done at, status, ms, events)
    event_ids: set[int] = field(default_factory=set)
    acknowledged: int = 0
    statuses: Counter = field(default_factory=Counter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="code tree to compare against (a git worktree)")
    parser.add_argument("--products", type=int, default=3000)
    parser.add_argument("--events", type=int, default=10_000, help="synthetic history before each run")
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=8, help="client threads")
    parser.add_argument("--batches", default="20,50", help="events per request of the batch runs (comma-separated)")
    parser.add_argument("--single", action="store_true", help="also run this tree with one event per request")
    parser.add_argument("--redis", default=os.environ.get("INGEST_REDIS_URL", "redis://127.0.0.1:6390/11"))
    parser.add_argument("--profile", action="store_true", help="py-spy the gunicorn workers for 20 s per run")
    parser.add_argument("--only", default="", help="comma-separated run labels to do (default all)")
    args = parser.parse_args()

    os.environ.update(
        DJANGO_SETTINGS_MODULE="load_settings",
        SHOPDEMO_DATA_DIR=str(DATA_DIR),
        DJANGO_DEBUG="0",
        CELERY_BROKER_URL=args.redis,
    )
    sys.path[:0] = [str(ROOT), str(BENCH)]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    modes = []
    if args.before:
        modes.append(Mode("before (1 event/request)", args.before.resolve(), 0))
    if args.single:
        modes.append(Mode("after (1 event/request)", ROOT, 0))
    modes += [Mode(f"after ({n} events/request)", ROOT, int(n)) for n in args.batches.split(",")]
    if args.only:
        wanted = set(args.only.split(","))
        modes = [m for m in modes if m.label.split(" ")[0] in wanted or m.label in wanted]
    load_before = [round(x, 2) for x in os.getloadavg()]
    results = [measure(mode, args) for mode in modes]
    report = {
        "what": "POST events/ ingestion: gunicorn sync workers + Postgres + a real Celery worker (Redis), threads",
        "duration_s": args.duration,
        "gunicorn_workers": args.workers,
        "client_threads": args.threads,
        "products": args.products,
        "history_events": args.events,
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "runs": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / "ingest_throughput"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(report))
    plot(report, stem.with_suffix(".png"))
    if args.profile:
        (RESULTS / "events_profile.md").write_text(profile_markdown(report))
    print(stem.with_suffix(".md").read_text())
    from recommender.embedded import stop_embedded

    stop_embedded(DATA_DIR / "pgdata")


def measure(mode: Mode, args: argparse.Namespace) -> dict:
    """Fresh data, server and worker from ``mode.tree``; load for ``args.duration``; check and catch up."""
    from api_latency import build_data
    from django.db import connection
    from load_test import logged_in_cookies

    from recommender.models import Event

    data = build_data(args.products, args.events, seed=0)
    Event.objects.update(processed=True)  # the history is caught up: only the run's events count
    users = logged_in_cookies(data["users"])
    keys = [p.id for p in data["products"]]
    first_id = (Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    connection.close()
    flush_redis(args.redis)
    print(f"{mode.label}: {mode.tree}", flush=True)
    worker = start_worker(mode.tree)
    server, port = start_server(mode.tree, args.workers)
    profile: dict = {}
    try:
        run_load(port, keys, users, args.threads, 8, mode.batch, seed=999)  # warm-up: imports, connections
        profiler = start_profiler(server, args.duration) if args.profile else None
        load_avg = [round(x, 2) for x in os.getloadavg()]
        run = run_load(port, keys, users, args.threads, args.duration, mode.batch, seed=1)
        ended = time.monotonic()
        if profiler is not None:
            profile = finish_profiler(profiler)
        stop(server)
        caught_up_s, left = catch_up(first_id, ended)
    finally:
        stop(server)
        stop(worker)
    from recommender.models import Event

    stored = Event.objects.filter(pk__in=run.event_ids).count()
    stored_since = Event.objects.filter(pk__gte=first_id).count()
    ok = [s for s in run.samples if s[1] == 201]
    latencies = np.array([s[2] for s in ok] or [np.nan])
    events = sum(s[3] for s in ok)
    result = {
        "label": mode.label,
        "tree": portable(str(mode.tree)),
        "commit": git_head(mode.tree),
        "events_per_request": max(mode.batch, 1),
        "events_per_s": round(events / run.seconds, 1),
        "requests_per_s": round(len(ok) / run.seconds, 1),
        "p50_ms": round(float(np.nanpercentile(latencies, 50)), 1),
        "p95_ms": round(float(np.nanpercentile(latencies, 95)), 1),
        "statuses": dict(sorted((str(k), v) for k, v in run.statuses.items())),
        "acknowledged_events": run.acknowledged,
        "distinct_ids": len(run.event_ids),
        "stored_of_acknowledged": stored,
        "stored_during_run": stored_since,
        "all_stored": run.acknowledged == len(run.event_ids) == stored,
        "profiles_caught_up_s": caught_up_s,
        "unprocessed_left": left,
        "load_average_at_start": load_avg,
        "timeseries": timeseries(run),
        "profile": profile,
    }
    print(json.dumps({k: v for k, v in result.items() if k not in ("timeseries", "profile")}), flush=True)
    connection.close()
    return result


# --- processes -------------------------------------------------------------------------------


def tree_env(tree: Path) -> dict[str, str]:
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join([str(tree), str(BENCH)])
    return env


def start_server(tree: Path, workers: int) -> tuple[subprocess.Popen, int]:
    from load_test import free_port, request

    port = free_port()
    log = open(DATA_DIR / "gunicorn.log", "w")  # noqa: SIM115 - the child keeps it
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
            str(tree),
        ],
        cwd=tree,
        env=tree_env(tree),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{(DATA_DIR / 'gunicorn.log').read_text()[-3000:]}")
        try:
            if request(port, "GET", f"{API}/trending/")[0] == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("gunicorn did not answer within 120 s")


def start_worker(tree: Path) -> subprocess.Popen:
    log_path = DATA_DIR / "worker.log"
    log = open(log_path, "w")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks",
            "worker",
            "-l",
            "warning",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=tree,
        env=tree_env(tree),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    time.sleep(3)
    if process.poll() is not None:
        raise SystemExit(f"celery worker exited:\n{log_path.read_text()[-3000:]}")
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def git_head(tree: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return out.stdout.strip() + ("+changes" if dirty else "")


# --- load ------------------------------------------------------------------------------------


def event_body(rng: random.Random, keys: list[str]) -> dict:
    type_ = rng.choices(list(EVENT_TYPES), weights=list(EVENT_TYPES.values()))[0]
    return {"type": type_, "product_id": rng.choice(keys)}


def run_load(port: int, keys: list[str], users: list[dict], threads: int, seconds: float, batch: int, seed: int) -> Run:
    """``threads`` clients posting events back to back for ``seconds``; batch 0 = bare objects."""
    from load_test import Shopper, request

    run = Run(seconds, time.monotonic())
    deadline = run.started + seconds
    lock = threading.Lock()

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        mine = [Shopper(dict(users[index % len(users)]), anonymous=False)]
        mine += [Shopper() for _ in range(ANONYMOUS_PER_THREAD)]
        samples, ids, acknowledged, statuses = [], set(), 0, Counter()
        while time.monotonic() < deadline:
            shopper = rng.choice(mine)
            if batch:
                n = batch
                body = {"events": [event_body(rng, keys) for _ in range(batch)]}
            else:
                n, body = 1, event_body(rng, keys)
            headers = {**shopper.headers, "Content-Type": "application/json"}
            t0 = time.monotonic()
            try:
                status, content, set_cookie = request(
                    port, "POST", f"{API}/events/", json.dumps(body).encode(), headers
                )
            except OSError:
                status, content, set_cookie = 0, b"", None
            done = time.monotonic()
            samples.append((done, status, (done - t0) * 1000, n))
            statuses[status] += 1
            if status == 201:
                reply = json.loads(content)
                stored = reply["events"] if batch else [reply]
                ids.update(e["id"] for e in stored)
                acknowledged += len(stored)
                shopper.remember(set_cookie)
        with lock:
            run.samples.extend(samples)
            run.event_ids |= ids
            run.acknowledged += acknowledged
            run.statuses.update(statuses)

    clients = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    run.samples.sort()
    return run


def catch_up(first_id: int, ended: float) -> tuple[float | None, int]:
    """Seconds from the end of the load until no event of the run is left unprocessed."""
    from recommender.models import Event

    left = 0
    while time.monotonic() - ended < CATCH_UP_LIMIT:
        left = Event.objects.filter(pk__gte=first_id, processed=False).count()
        if left == 0:
            return round(time.monotonic() - ended, 1), 0
        time.sleep(0.5)
    return None, left


def timeseries(run: Run) -> list[dict]:
    buckets: dict[int, list] = defaultdict(list)
    for done, status, ms, n in run.samples:
        if status == 201:
            buckets[int(done - run.started)].append((ms, n))
    return [
        {
            "second": s,
            "events": sum(n for _, n in buckets[s]),
            "p95_ms": round(float(np.percentile([ms for ms, _ in buckets[s]], 95)), 1) if buckets[s] else None,
        }
        for s in range(int(run.seconds))
    ]


# --- profile ---------------------------------------------------------------------------------


def start_profiler(server: subprocess.Popen, duration: float) -> tuple[subprocess.Popen, Path] | None:
    if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
        print("py-spy not installed: no profile", flush=True)
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = DATA_DIR / "profile.txt"
    seconds = int(min(20, duration - 5))
    process = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(server.pid),
            "--subprocesses",
            "--duration",
            str(seconds),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, out


def finish_profiler(profiler: tuple[subprocess.Popen, Path] | None) -> dict:
    """Inclusive and own share of samples per function (gunicorn workers only)."""
    if profiler is None:
        return {}
    process, out = profiler
    process.wait(timeout=120)
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in out.read_text().splitlines() if out.exists() else []:
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames or not count.isdigit():
            continue
        n = int(count)
        total += n
        names = [frame_name(f) for f in frames]
        for name in set(names):
            inclusive[name] += n
        own[names[-1]] += n
    if not total:
        return {}
    return {
        "samples": total,
        "inclusive_top": [(name, round(100 * n / total, 1)) for name, n in inclusive.most_common(25)],
        "own_top": [(name, round(100 * n / total, 1)) for name, n in own.most_common(15)],
    }


def frame_name(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``func (module.py)``: lines differ, functions add up."""
    name, _, where = frame.partition(" (")
    path = where.split(":")[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if parts else path
    return f"{name} ({short})"


# --- report ----------------------------------------------------------------------------------


def markdown(report: dict) -> str:
    lines = [
        "# Event ingestion: `POST events/` throughput",
        "",
        (
            f"`python bench/ingest_throughput.py`: gunicorn {report['gunicorn_workers']} sync workers, "
            f"{report['client_threads']} client threads (`http.client`, one connection per request), a Celery worker "
            f"(prefork, 1 process) over Redis updating profiles, embedded Postgres; demo catalog of {report['products']:,} "
            f"products rebuilt before each run with {report['history_events']:,} past events; {report['duration_s']:.0f} s "
            f"per run; events 80 % view, 10 % add to cart, 10 % purchase. Shared {report['cpu_count']}-core machine: "
            f"client, gunicorn, worker and Postgres share it with other work (load average before "
            f"{report['load_average_before']}, after {report['load_average_after']}). All runs in the same invocation."
        ),
        "",
        (
            "| run | commit | events/request | events/s | requests/s | p50 ms | p95 ms | acknowledged | stored | "
            "profiles caught up after (s) | load at start |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["runs"]:
        caught = (
            r["profiles_caught_up_s"]
            if r["profiles_caught_up_s"] is not None
            else f"> 300 ({r['unprocessed_left']} left)"
        )
        lines.append(
            f"| {r['label']} | {r['commit']} | {r['events_per_request']} | **{r['events_per_s']:,}** | "
            f"{r['requests_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['acknowledged_events']:,} | "
            f"{r['stored_of_acknowledged']:,} | {caught} | {r['load_average_at_start']} |"
        )
    lines += ["", "Statuses: " + "; ".join(f"{r['label']}: {r['statuses']}" for r in report["runs"]), ""]
    lines += [
        "*stored*: acknowledged event ids found in Postgres afterwards (every run: stored = acknowledged "
        + ("holds" if all(r["all_stored"] for r in report["runs"]) else "**does not hold**")
        + "). *caught up*: seconds after the load ended until no event of the run was left unprocessed by the worker.",
        "",
        "![events per second](ingest_throughput.png)",
    ]
    return "\n".join(lines) + "\n"


def profile_markdown(report: dict) -> str:
    lines = [
        "# Where `POST events/` spends its time (py-spy, gunicorn workers)",
        "",
        (
            "`python bench/ingest_throughput.py --profile`: py-spy 0.4 sampling all gunicorn workers at 200 Hz for 20 s "
            "in the middle of each run (idle waits included: a sync worker waiting in `accept` shows as `wait`/`select`). "
            f"Shared {report['cpu_count']}-core machine, load average before {report['load_average_before']}."
        ),
    ]
    for r in report["runs"]:
        p = r.get("profile") or {}
        if not p:
            continue
        lines += [
            "",
            f"## {r['label']} ({r['commit']}): {p['samples']:,} samples",
            "",
            "| inclusive % | function |",
            "|---:|---|",
        ]
        lines += [f"| {pct} | `{name}` |" for name, pct in p["inclusive_top"]]
        lines += ["", "| own % | function |", "|---:|---|"]
        lines += [f"| {pct} | `{name}` |" for name, pct in p["own_top"]]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for r in report["runs"]:
        ax.plot([p["second"] for p in r["timeseries"]], [p["events"] for p in r["timeseries"]], label=r["label"])
    ax.axhline(1000, color="grey", linestyle=":", label="goal: 1,000 events/s")
    ax.set_xlabel("second of the run")
    ax.set_ylabel("events acknowledged per second")
    ax.set_title("POST events/ (gunicorn, shared 2-core machine)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
