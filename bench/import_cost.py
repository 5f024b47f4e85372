"""What a web process pays to load the app: import time and resident memory, each step in a
fresh interpreter, and whether torch came along (it must not, before the first encoder use).

    python bench/import_cost.py          # writes bench/results/import_cost.{json,md}

Steps: ``import recommender`` (the lazy facade), ``django.setup()`` with the demo's settings
(every app's models, checks and receivers), then the serving modules a request touches
(recommend, search, behaviour serving, the API views). Median of 5 runs per step.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

PROBE = """
import json, os, resource, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopdemo.settings")
def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
t0 = time.perf_counter(); base = rss_mb()
steps = {}
import recommender
steps["import recommender"] = (time.perf_counter() - t0, rss_mb())
import django
django.setup()
steps["django.setup()"] = (time.perf_counter() - t0, rss_mb())
import recommender.api.views, recommender.behaviour.serving, recommender.recommend, recommender.search.engine
steps["serving modules"] = (time.perf_counter() - t0, rss_mb())
print(json.dumps({"base_mb": base, "steps": steps, "torch": "torch" in sys.modules,
                  "open_clip": "open_clip" in sys.modules}))
"""


def measure(runs: int = 5) -> dict:
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    steps = {}
    for name in samples[0]["steps"]:
        steps[name] = {
            "seconds": statistics.median(s["steps"][name][0] for s in samples),
            "rss_mb": statistics.median(s["steps"][name][1] for s in samples),
        }
    return {
        "python_baseline_rss_mb": statistics.median(s["base_mb"] for s in samples),
        "steps": steps,
        "torch_imported": any(s["torch"] for s in samples),
        "open_clip_imported": any(s["open_clip"] for s in samples),
        "runs": runs,
    }


def write(result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "import_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Import cost of the app in a web process",
        "",
        f"Fresh interpreter per run, median of {result['runs']} runs, demo settings (`bench/import_cost.py`).",
        "",
        "| step (cumulative) | seconds | RSS (MB) |",
        "|---|---|---|",
        f"| Python itself | 0 | {result['python_baseline_rss_mb']:.0f} |",
    ]
    for name, step in result["steps"].items():
        lines.append(f"| {name} | {step['seconds']:.2f} | {step['rss_mb']:.0f} |")
    lines += [
        "",
        f"torch imported: {result['torch_imported']}; open_clip imported: {result['open_clip_imported']}.",
        "",
    ]
    (RESULTS / "import_cost.md").write_text("\n".join(lines))


if __name__ == "__main__":
    result = measure()
    write(result)
    print((RESULTS / "import_cost.md").read_text())
