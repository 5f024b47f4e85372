"""Re-score saved Amazon models blended with each behaviour heuristic (no retraining).

    python bench/behaviour_amazon_blend.py behaviour_amazon behaviour_amazon_textonly

For each saved model (var/behaviour/<prefix>_model, written by bench/behaviour_amazon.py) and each
partner heuristic, the blend weight ``log_softmax(model) + w * heuristic`` is chosen on the
validation targets (NDCG@10, all 8,442 users) and then scored once on the test targets.
Writes bench/results/behaviour_amazon_blends.{json,md}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "amazon_scientific"
FEATURES = ROOT / "var" / "behaviour" / "amazon_scientific_minilm.npy"
RESULTS = ROOT / "bench" / "results"


def main() -> int:
    import torch

    from recommender.behaviour.baselines import CoocKNN, TransitionsCooc, item_counts
    from recommender.behaviour.data import leave_one_out, load_amazon_scientific
    from recommender.behaviour.evaluate import VQREC, Blend, evaluate, tune_blend
    from recommender.behaviour.model import load_artifact
    from recommender.behaviour.train import ModelScorer

    torch.set_num_threads(1)
    features = np.load(FEATURES)
    data = load_amazon_scientific(DATA, features)
    split = leave_one_out(data.sequences)
    counts = item_counts(split.train, data.n_items)
    partners = {
        "item co-occurrence kNN": CoocKNN(split.train, data.n_items, counts),
        "transitions + co-occurrence": TransitionsCooc(split.train, data.n_items, counts),
    }
    report: dict = {"published": {"VQ-Rec": VQREC}, "runs": {}}
    lines = ["# Amazon Scientific: behaviour model blended with a heuristic (weight chosen on validation)", ""]
    lines += ["| model | partner | weight | valid N@10 | R@10 | N@10 | R@50 | N@50 | MRR |", "|---" * 9 + "|"]
    for prefix in sys.argv[1:] or ["behaviour_amazon"]:
        folder = ROOT / "var" / "behaviour" / f"{prefix}_model"
        if not folder.exists():
            print(f"skipping {prefix}: {folder} missing")
            continue
        model, _, _ = load_artifact(folder, features)
        scorer = ModelScorer(model)
        for name, partner in partners.items():
            weight, by_weight = tune_blend(scorer, partner, split.valid, counts, "ndcg@10", (10,))
            test = evaluate(Blend(scorer, partner, weight), split.test, ks=(10, 50), counts=counts)
            report["runs"][f"{prefix} + {name}"] = {"weight": weight, "valid_ndcg@10": by_weight, "test": test}
            lines.append(
                f"| {prefix} | {name} | {weight} | {by_weight[weight]:.4f} | {test['recall@10']:.4f} | "
                f"{test['ndcg@10']:.4f} | {test['recall@50']:.4f} | {test['ndcg@50']:.4f} | {test['mrr']:.4f} |"
            )
            print(lines[-1], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "behaviour_amazon_blends.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "behaviour_amazon_blends.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
