"""What an abusive search costs on the full H&M catalog: a long random query against a normal one.

    python bench/search_abuse.py [--data ../shared/data/hm_fashion] [--profile] [--repeat 5]

Uses the index of ``bench/search_quality.py`` (``var/bench-search``: the 6,000 H&M articles
embedded with the MiniLM text tower, the suggestion vocabulary built; built on first run).
Times ``search()`` for shopper queries (the first ``--repeat`` of ``bench/results/search_queries.json``)
and for random queries of 195 characters (random letters in words of 2-9 letters), each query new
(caches cleared, so nothing is served from the query-vector or spelling caches), alternating the
two kinds so that both see the same machine load; wall and CPU seconds (CPU time is steadier
on a shared machine). ``--profile`` prints where a random query's time goes (cProfile,
cumulative). Writes ``bench/results/search_abuse.json`` under ``--label``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import random
import statistics
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.search_quality import setup_catalog, setup_django

RESULTS = ROOT / "bench" / "results"


def random_query(rng: random.Random, length: int = 195) -> str:
    """Random lower-case words of 2-9 letters, ``length`` characters in all."""
    words: list[str] = []
    while len(" ".join(words)) < length:
        words.append("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9))))
    return " ".join(words)[:length].strip()


def timed(query: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one uncached search."""
    from django.core.cache import cache

    from recommender.search import dense, search

    cache.clear()
    dense._cache.clear()  # the in-process query-vector cache
    wall, cpu = time.perf_counter(), time.process_time()
    search(query, limit=24, record=False)
    return time.perf_counter() - wall, time.process_time() - cpu


def shopper_queries(n: int) -> list[str]:
    data = json.loads((RESULTS / "search_queries.json").read_text())
    return [q["text"] for q in data["queries"] if q["split"] == "test"][:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "hm_fashion")
    parser.add_argument("--repeat", type=int, default=15, help="queries of each kind")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--label", default="after", help="key of this run in the JSON (before/after)")
    args = parser.parse_args()
    setup_django()
    info = setup_catalog(args.data)
    rng = random.Random(0)
    timed("dress")  # warm-up: encoder loaded
    timed(random_query(rng))
    normal, abusive = [], []
    for query in shopper_queries(args.repeat):
        normal.append(timed(query))
        abusive.append(timed(random_query(rng)))
    if args.profile:
        profiler = cProfile.Profile()
        query = random_query(rng)
        profiler.runcall(timed, query)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    row = {
        "shopper_median_s": round(statistics.median(t for t, _ in normal), 3),
        "shopper_median_cpu_s": round(statistics.median(c for _, c in normal), 3),
        "random195_median_s": round(statistics.median(t for t, _ in abusive), 3),
        "random195_median_cpu_s": round(statistics.median(c for _, c in abusive), 3),
        "random195_max_s": round(max(t for t, _ in abusive), 3),
        "queries": len(normal),
        "load_average": os.getloadavg()[0],
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
    }
    print(json.dumps({"catalog": info, args.label: row}, indent=2))
    path = RESULTS / "search_abuse.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[args.label] = row
    path.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
