"""Behaviour model vs the baselines on H&M purchases (time split, MAP@12 and Recall@12).

    python bench/behaviour_vectors.py hm       # once: catalog-CLIP vectors (or hm-attributes: attribute vectors)
    python bench/behaviour_hm.py [--features var/behaviour/hm_attributes.npz] [--epochs 60] [--threads 1]

Train on every purchase before 2020-09-19 (the two-year sample without the 181 rows it shares
with the last week, and 2020-09-16..18); validate on the articles bought on 2020-09-19 (early
stopping and the weight of the customer's own purchases in the blend); test on the distinct
articles bought on 2020-09-20..22 by customers with a purchase before 2020-09-20, ranked from
their whole history before that day. Twice: all test articles, and only articles new to the
customer (history masked from the ranking). Reads ../shared/data/hm_fashion; never copies it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "hm_fashion"
RESULTS = ROOT / "bench" / "results"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--features", type=Path, default=ROOT / "var" / "behaviour" / "hm_items.npz")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prefix", default="behaviour_hm")
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument("--set", nargs="*", default=[], help="extra hyperparameters key=value (JSON values)")
    args = parser.parse_args()
    from bench.behaviour_eval import hm_markdown, run_hm
    from recommender.behaviour.config import hyperparameters
    from recommender.training.behaviour.report import write_report

    stored = np.load(args.features)
    overrides = {
        "epochs": args.epochs,
        "torch_threads": args.threads,
        "patience": 4,
        "lr": 2e-3,
        "batch_size": 256,
        "max_len": 30,
    }
    for item in args.set:
        key, value = item.split("=", 1)
        overrides[key] = json.loads(value)

    def show(row: dict) -> None:
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)

    report = run_hm(DATA, [str(k) for k in stored["ids"]], stored["vectors"], hyperparameters(overrides), on_epoch=show)
    report["features"] = str(stored["source"])
    report["machine"] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "torch_threads": args.threads,
        "note": args.note,
    }
    paths = write_report(
        report,
        RESULTS,
        args.prefix,
        title="Behaviour model on H&M purchases (time split)",
        render=hm_markdown,
        main="test_all",
    )
    print(Path(paths["md"]).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
