"""What a web process pays to load the app: import time and resident memory, each step in a
fresh interpreter, and whether torch came along (it must not, before the first encoder use).

    python bench/import_cost.py          # writes bench/results/import_cost.{json,md}

Steps: ``import recommender`` (the lazy facade), ``django.setup()`` with the demo's settings
(every app's models, checks and receivers), then the serving modules a request touches
(recommend, search, behaviour serving, the API views). Median of 5 runs per step.

With search on (``--search``, default): a web worker then loads the serving version's query
encoder (what ``preload_query_encoder()`` does at boot) and encodes a first and a second
shopper query through ``search.dense.query_vector``, once per query runtime, alternating in the
same run: ``torch`` (before: torch + open_clip load to encode one query) and ``onnx`` (after).
The model is the catalog CLIP architecture (real MiniLM text tower; the image tower's random
weights do not change the text side's cost), saved once under ``var/bench-query-encoder``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
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
torch_before_search = "torch" in sys.modules
model = os.environ.get("BENCH_QUERY_MODEL")
if model:
    from django.conf import settings
    settings.RECOMMENDER = {**settings.RECOMMENDER, "QUERY_ENCODER": os.environ["BENCH_QUERY_RUNTIME"]}
    from recommender.models import ModelVersion
    from recommender.query_encoders import query_encoder_for
    from recommender.search.dense import query_vector
    version = ModelVersion(pk=1, kind="encoder", config={"MODEL": "local-dir:" + model,
                                                         "encoder_version": os.environ["BENCH_QUERY_VERSION"]})
    t1 = time.perf_counter()
    query_encoder_for(version).encode_texts(["warm up"])
    steps["query encoder loaded (boot)"] = (time.perf_counter() - t0, rss_mb(), time.perf_counter() - t1)
    t1 = time.perf_counter()
    query_vector(version, "black summer dress")
    steps["first query encoded"] = (time.perf_counter() - t0, rss_mb(), time.perf_counter() - t1)
    t1 = time.perf_counter()
    query_vector(version, "red knitted jumper")
    steps["second query encoded"] = (time.perf_counter() - t0, rss_mb(), time.perf_counter() - t1)
print(json.dumps({"base_mb": base, "steps": steps, "torch": torch_before_search,
                  "torch_after_search": "torch" in sys.modules, "open_clip": "open_clip" in sys.modules}))
"""

MODEL_FOLDER = ROOT / "var" / "bench-query-encoder" / "catalog-clip"
RUNTIMES = ("torch", "onnx")


def prepare_model() -> str:
    """Save the catalog CLIP architecture as a local-dir model with its ONNX query encoder; its version."""
    import torch

    from recommender.encoders.configs import CATALOG_CLIP, CATALOG_CLIP_PREPROCESS
    from recommender.encoders.local_dir import local_dir_version, save_local_dir
    from recommender.encoders.onnx_export import export_text_encoder
    from recommender.encoders.onnx_text import read_manifest
    from recommender.encoders.open_clip_encoder import OpenClipEncoder

    try:
        return read_manifest(MODEL_FOLDER / "query-encoder")["encoder_version"]
    except (OSError, ValueError):
        pass
    torch.manual_seed(0)
    built = OpenClipEncoder(CATALOG_CLIP, device="cpu")
    save_local_dir(built.model, MODEL_FOLDER, model_cfg=built.model_cfg, preprocess_cfg=CATALOG_CLIP_PREPROCESS)
    encoder = OpenClipEncoder(f"local-dir:{MODEL_FOLDER}", device="cpu")
    export_text_encoder(encoder, MODEL_FOLDER / "query-encoder")
    return local_dir_version(MODEL_FOLDER)


def _probe(env: dict[str, str] | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _summary(samples: list[dict]) -> dict:
    steps = {}
    for name in samples[0]["steps"]:
        steps[name] = {
            "seconds": statistics.median(s["steps"][name][0] for s in samples),
            "rss_mb": statistics.median(s["steps"][name][1] for s in samples),
        }
        if len(samples[0]["steps"][name]) > 2:  # the step's own time
            steps[name]["step_seconds"] = statistics.median(s["steps"][name][2] for s in samples)
    return {
        "python_baseline_rss_mb": statistics.median(s["base_mb"] for s in samples),
        "steps": steps,
        "torch_imported": any(s["torch"] for s in samples),
        "torch_after_search": any(s.get("torch_after_search") for s in samples),
        "open_clip_imported": any(s["open_clip"] for s in samples),
        "runs": len(samples),
    }


def measure(runs: int = 5, *, search: bool = True) -> dict:
    result = _summary([_probe() for _ in range(runs)])
    if search:
        version = prepare_model()
        samples: dict[str, list[dict]] = {runtime: [] for runtime in RUNTIMES}
        loads = []
        for _ in range(runs):  # alternating, so both runtimes see the same machine load
            for runtime in RUNTIMES:
                env = {
                    **os.environ,
                    "BENCH_QUERY_MODEL": str(MODEL_FOLDER),
                    "BENCH_QUERY_RUNTIME": runtime,
                    "BENCH_QUERY_VERSION": version,
                }
                samples[runtime].append(_probe(env))
                loads.append(os.getloadavg()[0])
        result["search"] = {runtime: _summary(samples[runtime]) for runtime in RUNTIMES}
        result["load_average_1min"] = [round(min(loads), 2), round(max(loads), 2)]
    result["measured_at"] = time.strftime("%Y-%m-%d %H:%M")
    return result


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
    if "search" in result:
        low, high = result["load_average_1min"]
        lines += [
            "## A web worker with search on: query encoder torch (before) vs ONNX (after)",
            "",
            (
                f"Same run, alternating, median of {result['runs']} fresh interpreters each; shared 2-core machine, "
                f"1-minute load average {low}-{high} during the runs ({result['measured_at']} UTC). Step seconds "
                "are the step's own time; RSS is the worker's resident memory after it."
            ),
            "",
            "| step | torch: seconds | torch: RSS (MB) | ONNX: seconds | ONNX: RSS (MB) |",
            "|---|---|---|---|---|",
        ]
        torch_run, onnx_run = result["search"]["torch"], result["search"]["onnx"]
        for name, step in onnx_run["steps"].items():
            before = torch_run["steps"][name]
            own = "step_seconds" if "step_seconds" in step else "seconds"
            lines.append(
                f"| {name} | {before[own]:.3f} | {before['rss_mb']:.0f} | {step[own]:.3f} | {step['rss_mb']:.0f} |"
            )
        lines += [
            "",
            (
                f"torch loaded after the first search: torch runtime {torch_run['torch_after_search']}, "
                f"ONNX runtime {onnx_run['torch_after_search']}."
            ),
            "",
        ]
    (RESULTS / "import_cost.md").write_text("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-search", dest="search", action="store_false", help="import steps only")
    args = parser.parse_args()
    result = measure(args.runs, search=args.search)
    write(result)
    print((RESULTS / "import_cost.md").read_text())
