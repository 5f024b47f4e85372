"""The demo's product page ({% record_view %} + 4 slot tags) and "for you", in-process, old vs new code.

    python bench/page_latency.py [--old /tmp/pagespeed-old] [--rounds 3] [--requests 100] [--profile]

The parent builds the catalog and synthetic visits of ``bench/api_latency.py`` once (its own
embedded Postgres in ``var/bench-page``; ``DATABASE_URL`` wins when set, its tables are emptied),
then runs one child process per (round, code): each child puts its code's root first on
``sys.path`` (so ``--old`` measures a checkout of the old code against the same database) and
times, with Django's test client, the demo product page rendered whole for logged-in shoppers
with history, results cache off and on (the default 300 s, every URL rendered once before timing),
and ``GET for-you/`` with the cache off. Old and new alternate round by round, so both see the
same machine load. With ``--profile`` each code's first child also writes the top of a cProfile
of the cache-off page. Writes ``bench/results/page_latency.json``, ``.md`` and ``.png``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

from portable import portable  # bench/ is on sys.path when a bench runs as a script

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATA_DIR = ROOT / "var" / "bench-page"
PAGE = "product page (4 slot tags)"
FOR_YOU = "GET for-you/"


def setup(code_root: Path) -> None:
    os.environ.update(DJANGO_SETTINGS_MODULE="shopdemo.settings", SHOPDEMO_DATA_DIR=str(DATA_DIR), DJANGO_DEBUG="0")
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(code_root))
    import logging

    import django

    django.setup()
    logging.getLogger().setLevel(logging.ERROR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="", help="root of a checkout of the old code, measured alternately")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="timed requests per child and case")
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="keep the data of the last run (var/bench-page)")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--plan", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(Path(args.child), Path(args.plan), args.requests, args.profile)

    setup(ROOT)
    from django.core.management import call_command

    from bench.api_latency import build_data, environment

    call_command("migrate", verbosity=0)
    plan_path = DATA_DIR / "plan.json"
    if args.reuse and plan_path.exists():
        plan = json.loads(plan_path.read_text())
    else:
        data = build_data(args.products, args.events, args.seed)
        plan = {
            "users": [u.pk for u in data["users"]],
            "pages": data["purchased"][: max(args.requests, 1)],
            "summary": data["summary"],
        }
        plan_path.write_text(json.dumps(plan))
    from recommender.neighbours import refresh_neighbours

    refresh_neighbours()  # what beat keeps current on a shop (the new code reads it; older code counted live)
    from django.db import connections

    connections.close_all()
    codes = {"new": ROOT}
    if args.old:
        codes = {"old": Path(args.old).resolve(), "new": ROOT}
    loads, runs = [], []
    for rnd in range(args.rounds):
        for name, root in codes.items():
            loads.append([round(x, 2) for x in os.getloadavg()])
            cmd = [sys.executable, __file__, "--child", str(root), "--plan", str(plan_path)]
            cmd += ["--requests", str(args.requests)] + (["--profile"] if args.profile and rnd == 0 else [])
            # In the code's own root: the demo's start-up puts the working directory first on sys.path.
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=root).stdout
            result = json.loads(out.strip().splitlines()[-1])
            result.update(code=name, round=rnd)
            runs.append(result)
            print(f"round {rnd} {name}: {result['rows']}", flush=True)
    report = {
        "what": "demo product page and for-you latency, Django test client in-process, old and new code alternating",
        "catalog": plan["summary"],
        "requests_per_child": args.requests,
        "rounds": args.rounds,
        "load_averages": loads,
        "environment": environment(),
        "runs": runs,
        "summary": summarise(runs),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "page_latency.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "page_latency.md").write_text(markdown(report))
    plot(report, RESULTS / "page_latency.png")
    print((RESULTS / "page_latency.md").read_text())


def child(code_root: Path, plan_path: Path, n: int, profile: bool) -> None:
    setup(code_root)
    import recommender

    assert Path(recommender.__file__).resolve().is_relative_to(code_root.resolve()), recommender.__file__
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from recommender.models import Event, RecommenderSettings

    plan = json.loads(plan_path.read_text())
    from django.contrib.auth import get_user_model

    clients = []
    for user in get_user_model().objects.filter(pk__in=plan["users"]).order_by("pk"):
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        clients.append(client)
    pages = [reverse("shop:product", args=[k]) for k in plan["pages"]]
    page_plan = [(clients[i % len(clients)], pages[i % len(pages)]) for i in range(n)]
    for_you_plan = [(clients[i % len(clients)], reverse("recommender_api:for-you")) for i in range(n)]
    rows, profiles = [], {}
    settings = RecommenderSettings.get()
    first_event = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    for seconds, label in ((0, "off"), (300, "on")):
        settings.cache_seconds = seconds
        settings.save()
        cache.clear()
        cases = [(PAGE, page_plan)] + ([(FOR_YOU, for_you_plan)] if not seconds else [])
        for what, calls in cases:
            for client, url in calls if seconds else calls[:10]:  # warm-up; cache on: every URL once
                client.get(url)
            times = []
            for client, url in calls:
                t0 = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            times.sort()
            client, url = calls[0]
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            cards = response.content.count(b"data-rec-product=") if what == PAGE else len(response.json()["results"])
            if os.environ.get("PAGE_LATENCY_SQL"):  # which statements one request costs, on stderr
                print(what, label, *(q["sql"][:120] for q in queries.captured_queries), sep="\n", file=sys.stderr)
            rows.append(
                {
                    "what": what,
                    "cache": label,
                    "p50_ms": round(statistics.median(times), 2),
                    "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
                    "sql_queries": len(queries),
                    "results": cards,
                }
            )
            if profile and what == PAGE:
                profiler = cProfile.Profile()
                profiler.enable()
                for client, url in calls[:50]:
                    client.get(url)
                profiler.disable()
                buf = io.StringIO()
                pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(35)
                profiles[label] = portable(buf.getvalue())
    # Leave the database as the next child expects it: the views just recorded go.
    Event.objects.filter(pk__gt=first_event).delete()
    if profiles:
        name = "new" if code_root == ROOT else "old"
        for label, text in profiles.items():
            (RESULTS / f"page_profile_{name}_cache_{label}.txt").write_text(text)
    print(json.dumps({"rows": rows}))


def summarise(runs: list[dict]) -> list[dict]:
    """Median over rounds of each (code, what, cache) p50 and p95."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        for row in run["rows"]:
            groups.setdefault((row["what"], row["cache"], run["code"]), []).append(row)
    return [
        {
            "what": what,
            "cache": cache,
            "code": code,
            "p50_ms": round(statistics.median(r["p50_ms"] for r in rows), 2),
            "p95_ms": round(statistics.median(r["p95_ms"] for r in rows), 2),
            "sql_queries": rows[0]["sql_queries"],
            "results": rows[0]["results"],
        }
        for (what, cache, code), rows in groups.items()
    ]


def markdown(report: dict) -> str:
    env = report["environment"]
    lines = [
        '# Demo product page and "for you": old and new code, same run',
        "",
        (
            f"`python bench/page_latency.py --old <checkout of the old code>`: {report['catalog']['products']:,} "
            f"products, {report['catalog']['events']:,} synthetic events (as `bench/api_latency.py`); "
            f"{report['rounds']} rounds, old and new alternating, {report['requests_per_child']} timed requests "
            "per round and case (median of the rounds' p50 and p95). Logged-in shoppers with history; the page "
            "records a view and renders similar, bought-together, also-viewed and recently-viewed slots. No broker "
            "(as in the demo)."
        ),
        "",
        "| what | results cache | code | p50 ms | p95 ms | SQL queries | results |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in sorted(report["summary"], key=lambda r: (r["what"], r["cache"], r["code"] != "old")):
        lines.append(
            f"| {r['what']} | {r['cache']} | {r['code']} | {r['p50_ms']} | {r['p95_ms']} | {r['sql_queries']} "
            f"| {r['results']} |"
        )
    lines += [
        "",
        (
            "SQL queries: statements sent through Django's connection (what `CaptureQueriesContext` sees); "
            "product vectors read in binary through a plain psycopg cursor (`storage.vector_rows`: 1-3 per "
            'uncached slot or "for you") are not counted, in either code. The new code\'s page runs the demo '
            "with `PageImpressionsMiddleware` (the old demo had none) and a 20,000-entry `LocMemCache` (the "
            "old 300 entries held this run's 40 pages without evicting)."
        ),
        f"Shared 2-core machine; load averages before each child: {report['load_averages']}.",
        (
            f"{env['cpu_count']} CPUs, Python {env['python']}, Django {env['django']}, {env['postgres']}, "
            f"pgvector {env['pgvector']}."
        ),
        "",
        "![page latency](page_latency.png)",
    ]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(report["summary"], key=lambda r: (r["what"], r["cache"], r["code"] != "old"))
    labels = [f"{r['what']}, cache {r['cache']}, {r['code']}" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(rows) + 1.5))
    y = range(len(rows))
    ax.barh([i + 0.2 for i in y], [r["p95_ms"] for r in rows], height=0.4, label="p95", color="#f4a261")
    ax.barh([i - 0.2 for i in y], [r["p50_ms"] for r in rows], height=0.4, label="p50", color="#2a9d8f")
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlabel("ms (shared 2-core machine)")
    ax.set_title("Demo product page and for-you: old vs new code")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
