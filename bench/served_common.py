"""What the served benchmarks (``served_hm.py``, ``served_amazon.py``) share: the demo shop on a
scratch database, training settings from the command line, and writing the results."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def start_demo_shop(data_dir: str) -> None:
    """Django on the demo shop's settings with its own embedded Postgres under ``var/<data_dir>``,
    tasks eager (no broker)."""
    os.environ.update(DJANGO_SETTINGS_MODULE="shopdemo.settings", SHOPDEMO_DATA_DIR=str(ROOT / "var" / data_dir))
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def add_run_arguments(parser: argparse.ArgumentParser, *, epochs: int, prefix: str) -> None:
    """The options every served benchmark takes: training length and threads, how many shoppers,
    where the results go, extra behaviour settings."""
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-shoppers", type=int, default=None)
    parser.add_argument("--prefix", default=prefix)
    parser.add_argument("--set", nargs="*", default=[], help="extra behaviour settings key=value (JSON values)")


def with_settings(overrides: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """``overrides`` updated with ``key=value`` items (values are JSON: 2, 0.5, "x", [..])."""
    out = dict(overrides)
    for item in items:
        key, value = item.split("=", 1)
        out[key] = json.loads(value)
    return out


def save_results(report: dict[str, Any], prefix: str, text: str, *, overrides: dict, seconds: dict, plot) -> None:
    """``report`` (with the settings, timings and machine) as ``prefix``.json, ``text`` as .md and
    ``plot(report, path)`` as .png, in bench/results (an absolute ``prefix`` writes elsewhere)."""
    report["seconds"] = {name: round(value, 1) for name, value in seconds.items()}
    report["overrides"] = overrides
    report["machine"] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
        "note": "shared 2-core machine",
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{prefix}.json").write_text(json.dumps(report, indent=2, default=str))
    (RESULTS / f"{prefix}.md").write_text(text)
    plot(report, RESULTS / f"{prefix}.png")
    print(text)


def timed(load: Callable[[], None], evaluate: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], dict[str, float]]:
    """Load the shop, then evaluate: the report, and the seconds each step took."""
    started = time.perf_counter()
    load()
    loaded = time.perf_counter()
    report = evaluate()
    return report, {"load": loaded - started, "evaluation": time.perf_counter() - loaded}


def bar_panels(
    path: Path, *, title: str, names: Sequence[str], colours: Sequence[str], panels: Sequence[tuple[str, list[float]]]
) -> None:
    """Side-by-side horizontal bar charts of the same rankings, one (panel title, values) each."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.5), dpi=110)
    FigureCanvasAgg(figure)
    for col, (panel_title, values) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), col + 1)
        axes.barh(list(names), values, color=list(colours))
        axes.invert_yaxis()
        axes.set_title(panel_title)
        if col:
            axes.set_yticklabels([])
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path)
