"""search() latency on the H&M catalog, in-process and over HTTP, old code against new in one run.

    python bench/search_latency.py [--old /tmp/searchspeed-old] [--rounds 3] [--http-requests 200]
    python bench/search_latency.py --profile bench/results/profile_new.txt     # cProfile of one pass

Uses the scratch database of ``bench/search_quality.py`` (``var/bench-search``; run that first)
and the 377 queries of ``bench/results/search_queries.json``. Each round runs one worker process
per code checkout (``--old``: a checkout of the baseline, e.g. ``git worktree add /tmp/old HEAD~3``;
this tree is "new"), alternating old and new so both see the same machine load. A worker times
every query through ``search(q, limit=20, record=False)`` twice:

- ``vector cached``: after a warm-up pass, so the query's text vector, spelling corrections and
  other caches are warm: everything search does besides encoding the query;
- ``new query``: queries of the set the worker never searched (with ``--sample``: the ones
  after each sampled query), the process and its caches otherwise warm: encoding, spelling and
  translation of an unseen query, as a shop's warm worker meets it;
- ``encoding included``: with every cache cleared before each query (process caches and the
  Django cache), so the query is encoded and every per-process cache (category words, rules,
  phrases) refilled: a cold worker's worst case.

It also counts round trips to Postgres per search (statements sent through psycopg, plus the
BEGIN and COMMIT of each transaction). With ``--http-requests``, each checkout is then served by
gunicorn (1 sync worker, persistent database connection) and the demo's ``/search/?q=`` page is
fetched over loopback for the first queries (vectors warm after one pass). Writes
``bench/results/search_latency.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUERIES = RESULTS / "search_queries.json"
PORT = 8731


def _pct(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 2)


def _stats(values: list[float]) -> dict:
    return {
        "p50": _pct(values, 50),
        "p95": _pct(values, 95),
        "p99": _pct(values, 99),
        "mean": round(statistics.fmean(values), 2),
        "n": len(values),
    }


# --- worker (runs inside one checkout) -----------------------------------------------------------


class RoundTrips:
    """Counts statements sent through psycopg and transaction ends (each BEGIN pairs with one)."""

    def __init__(self) -> None:
        import psycopg

        self.count = 0
        for cls, names in ((psycopg.Cursor, ("execute", "executemany")), (psycopg.Connection, ("commit", "rollback"))):
            for name in names:
                setattr(cls, name, self._wrap(getattr(cls, name), 2 if cls is psycopg.Connection else 1))

    def _wrap(self, method, cost: int):
        def counted(*args, **kwargs):
            self.count += cost
            return method(*args, **kwargs)

        return counted


def worker(texts: list[str], profile: str | None, fresh: list[str] | None = None) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    import search_quality

    code = Path(os.environ.get("BENCH_CODE", ROOT))
    search_quality.ROOT = code  # import that checkout's code
    # ... on that checkout's database copy: a checkout may need its own schema (migration 0012)
    search_quality.BENCH_DIR = code / "var" / "bench-search"
    search_quality.setup_django()
    from django.core.cache import cache

    from recommender.search import dense, search

    trips = RoundTrips()

    def clear_caches() -> None:
        cache.clear()
        for name in ("_cache", "_local"):
            store = getattr(dense, name, None)
            if hasattr(store, "clear"):
                store.clear()

    for text in texts:  # warm-up: vectors, spelling, phrases-ready flag, Postgres buffers
        search(text, limit=20, record=False)
    cached, counts = [], []
    profiler = cProfile.Profile() if profile else None
    for text in texts:
        before = trips.count
        if profiler:
            profiler.enable()
        start = time.perf_counter()
        search(text, limit=20, record=False)
        cached.append((time.perf_counter() - start) * 1000)
        if profiler:
            profiler.disable()
        counts.append(trips.count - before)
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        out.write("\n")
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        Path(profile).write_text(out.getvalue())
    new_queries = []  # never searched in this process, everything else warm: a shop's new query
    for text in fresh or []:
        start = time.perf_counter()
        search(text, limit=20, record=False)
        new_queries.append((time.perf_counter() - start) * 1000)
    cold = []
    for text in texts:
        clear_caches()
        start = time.perf_counter()
        search(text, limit=20, record=False)
        cold.append((time.perf_counter() - start) * 1000)
    return {"cached": cached, "cold": cold, "new_queries": new_queries, "round_trips": counts}


# --- HTTP ------------------------------------------------------------------------------------------


def http_pass(code: Path, texts: list[str]) -> list[float]:
    """Serve ``code`` with gunicorn and time the demo's search page for each text (second pass)."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{code}{os.pathsep}{code / 'bench'}",
        "DJANGO_SETTINGS_MODULE": "search_settings",
        "SHOPDEMO_DATA_DIR": str(code / "var" / "bench-search"),
        "DJANGO_DEBUG": "0",
    }
    env.pop("CELERY_BROKER_URL", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "-w", "1", "-b", f"127.0.0.1:{PORT}", "--chdir", str(code), "shopdemo.wsgi"],
        env=env,
        cwd=code,  # gunicorn puts the working directory on sys.path: the checkout's own shopdemo must win
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                _get("/search/?q=dress")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        for text in texts:
            _get("/search/?" + urllib.parse.urlencode({"q": text}))
        times = []
        for text in texts:
            start = time.perf_counter()
            status = _get("/search/?" + urllib.parse.urlencode({"q": text}))
            times.append((time.perf_counter() - start) * 1000)
            if status != 200:
                raise RuntimeError(f"/search/?q={text} answered {status}")
        return times
    finally:
        server.terminate()
        server.wait(30)


def _get(path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


# --- driver ----------------------------------------------------------------------------------------


def run_worker(code: Path, queries: Path, sample: int) -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", "--queries", str(queries), "--sample", str(sample)],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code), "BENCH_CODE": str(code)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="checkout of the baseline code")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--http-requests", type=int, default=200, help="search pages fetched per checkout (0: none)")
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--sample", type=int, default=0, help="every n-th query only (0: all), for a loaded machine")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", help="write a cProfile of the cached pass of this checkout to this file")
    args = parser.parse_args()
    every = [q["text"] for q in json.loads(args.queries.read_text())["queries"]]
    texts, fresh = every, []
    if args.sample > 1:
        texts = every[:: args.sample]
        seen = set(texts)  # new queries: other queries of the set, never searched by the worker
        fresh = list(dict.fromkeys(t for t in every[1 :: args.sample] if t not in seen))
    if args.worker or args.profile:
        result = worker(texts, args.profile, fresh)
        print(json.dumps(result))
        return
    codes = {"old": args.old.resolve(), "new": ROOT} if args.old else {"new": ROOT}
    for code in codes.values():
        search_settings = code / "bench" / "search_settings.py"
        if not search_settings.exists() and args.http_requests:
            search_settings.write_bytes((ROOT / "bench" / "search_settings.py").read_bytes())
    samples: dict[str, dict[str, list[float]]] = {
        name: {"cached": [], "cold": [], "new_queries": [], "round_trips": [], "http": []} for name in codes
    }
    loads = [load_avg()]
    # Checkouts take turns first (old, new; new, old; ...): a machine that drifts within a run, or
    # a first worker that warms Postgres for the second, then favours neither.
    orders = [list(codes.items()), list(reversed(codes.items()))]
    for round_number in range(args.rounds):
        for name, code in orders[round_number % 2]:
            result = run_worker(code, args.queries, args.sample)
            for key in ("cached", "cold", "new_queries", "round_trips"):
                samples[name][key] += result.get(key, [])
            loads.append(load_avg())
            shown = [k for k in ("cached", "new_queries", "cold") if result.get(k)]
            print(name, {k: _stats(result[k]) for k in shown}, "load", loads[-1], flush=True)
    if args.http_requests:
        for round_number in range(max(1, args.rounds // 2)):
            for name, code in orders[round_number % 2]:
                samples[name]["http"] += http_pass(code, texts[: args.http_requests])
                loads.append(load_avg())
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared)",
        "load_averages": loads,
        "queries": len(texts),
        "rounds": args.rounds,
        "results": {
            name: {
                "search_vector_cached_ms": _stats(s["cached"]),
                "search_encoding_included_ms": _stats(s["cold"]),
                **({"search_new_query_ms": _stats(s["new_queries"])} if s["new_queries"] else {}),
                "round_trips_per_search": _stats([float(x) for x in s["round_trips"]]),
                **({"http_search_page_ms": _stats(s["http"])} if s["http"] else {}),
            }
            for name, s in samples.items()
        },
    }
    (RESULTS / "search_latency.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["results"], indent=1))


if __name__ == "__main__":
    main()
