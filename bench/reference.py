"""Published reference numbers the behaviour benchmarks are compared with (outside the app).

from bench.reference import VQREC
report["published"] = {"VQ-Rec (paper, same files)": VQREC}
"""

from __future__ import annotations

__all__ = ["VQREC"]

# VQ-Rec on Amazon "Scientific", on these exact RecBole files (RUCAIBox/VQ-Rec README, commit 29818450):
# leave-one-out, full ranking.
VQREC = {"recall@10": 0.1211, "ndcg@10": 0.0643, "recall@50": 0.2369, "ndcg@50": 0.0897}
