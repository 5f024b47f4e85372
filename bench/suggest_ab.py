"""suggest() latency of two checkouts in one run: the keystrokes of ``bench/suggest_latency.py``.

    python bench/suggest_ab.py --old /tmp/searchspeed-old [--rounds 2] [--prefixes-of 200]

Uses the scratch database of ``bench/suggest_latency.py`` as that script left it (the H&M catalog,
the simulated query log and the phrase table; run it first). Each round runs one worker process
per checkout, old and new alternating so both see the same machine load; a worker clears the
cache, then times ``suggest(prefix, limit=8)`` for every prefix of the same sampled logged queries
and product names (so corrections are computed on the first keystroke that needs them, as in
``suggest_latency.py``'s first pass). Writes ``bench/results/suggest_ab.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench"))

from search_latency import _stats, load_avg


def worker(prefixes_of: int) -> dict:
    import search_quality

    search_quality.ROOT = Path(os.environ.get("BENCH_CODE", ROOT))  # import that checkout's code
    search_quality.setup_django()
    from django.core.cache import cache

    from recommender.models import ProductVector, SearchQuery
    from recommender.search import suggest

    rng = random.Random(1)
    logged = sorted(set(SearchQuery.objects.values_list("normalized", flat=True)))
    titles = sorted(set(ProductVector.objects.values_list("title", flat=True)))
    typed = rng.sample(logged, prefixes_of) + rng.sample(titles, prefixes_of // 4)
    prefixes = [text[:i] for text in typed for i in range(1, len(text) + 1)]
    rng.shuffle(prefixes)
    cache.clear()
    for text in ("a", "b", "c"):  # the connection and the settings row
        suggest(text)
    times, found = [], {}
    for text in prefixes:
        start = time.perf_counter()
        suggest(text, limit=8)
        times.append((time.perf_counter() - start) * 1000)
    for text in ("blak", "blak d", "carfig", "skrit", "jumpr"):
        found[text] = [s.text for s in suggest(text, limit=5)]
    return {"times": times, "examples": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=False)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--prefixes-of", type=int, default=200)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.prefixes_of)))
        return
    codes = {"old": args.old.resolve(), "new": ROOT} if args.old else {"new": ROOT}
    times: dict[str, list[float]] = {name: [] for name in codes}
    examples, loads = {}, [load_avg()]
    for _ in range(args.rounds):
        for name, code in codes.items():
            out = subprocess.run(
                [sys.executable, __file__, "--worker", "--prefixes-of", str(args.prefixes_of)],
                cwd=code,
                env={**os.environ, "PYTHONPATH": str(code), "BENCH_CODE": str(code)},
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            times[name] += result["times"]
            examples[name] = result["examples"]
            loads.append(load_avg())
            print(name, _stats(result["times"]), "load", loads[-1], flush=True)
    report = {
        "load_averages": loads,
        "rounds": args.rounds,
        "results": {name: {"suggest_ms": _stats(t), "examples": examples[name]} for name, t in times.items()},
    }
    (RESULTS / "suggest_ab.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["results"], indent=1))


if __name__ == "__main__":
    main()
