"""Does draft JPEG decoding keep the trained catalog CLIP's retrieval? Held-out R@10, full vs draft.

    python bench/train_catalog_clip_hm.py      # once: var/models/catalog-clip-hm
    python bench/draft_decode_recall.py

``IMAGE_DRAFT_DECODE`` decodes a JPEG at the smallest scale that keeps 4x the model's input
side, which makes the whole embedding path faster (``bench/embedding_e2e.py``). This measures
what it costs in relevance: the held-out articles of the training run (the same seeded split,
600 of 6,000) are embedded through the serving path (``images.load_image`` then
``encode_images``), once fully decoded and once in draft, and ranked against their texts
(text -> image and image -> text recall@10 among the held-out set, as training reports it).
Writes bench/results/draft_decode_recall.{json,md}. Reads ../shared/data/hm_fashion.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DATA = ROOT.parent / "shared" / "data" / "hm_fashion"
CHECKPOINT = ROOT / "var" / "models" / "catalog-clip-hm"
RESULTS = ROOT / "bench" / "results"


def recall_at(similarity: np.ndarray, k: int) -> float:
    """Share of rows whose own column (the diagonal) is among their ``k`` highest scores."""
    own = np.diag(similarity)[:, None]
    rank = (similarity > own).sum(axis=1)
    return float((rank < k).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not (args.data / "articles.csv").is_file():
        sys.exit(f"H&M data not found at {args.data} (see ../shared/data/hm_fashion/SOURCE.md).")
    if not (args.checkpoint / "open_clip_config.json").is_file():
        sys.exit(f"No trained catalog CLIP at {args.checkpoint}: run python bench/train_catalog_clip_hm.py first.")
    import torch
    from train_catalog_clip_hm import _product_text, _read_articles

    from recommender.encoders.open_clip_encoder import OpenClipEncoder
    from recommender.images import MAX_WORKING_SIDE, load_image
    from recommender.training.data import split_indices

    torch.set_num_threads(2)
    articles = _read_articles(args.data / "articles.csv", None)
    _, held_out = split_indices(len(articles), val_fraction=0.1, seed=args.seed)
    rows = [articles[i] for i in held_out]
    encoder = OpenClipEncoder(f"local-dir:{args.checkpoint}", None, device="cpu", batch_size=64)
    texts = encoder.encode_texts([_product_text(row) for row in rows])
    paths = [args.data / row["image_path"] for row in rows]
    report = {"what": __doc__.splitlines()[0], "held_out": len(rows), "checkpoint": encoder.version, "paths": {}}
    for mode, side in (("full", None), ("draft", 4 * encoder.image_side)):
        started = time.perf_counter()
        images = [load_image(path, max_side=MAX_WORKING_SIDE, draft_side=side) for path in paths]
        vectors = encoder.encode_images(images)
        seconds = time.perf_counter() - started
        similarity = texts @ vectors.T
        report["paths"][mode] = {
            "t2i_r10": round(recall_at(similarity, 10), 4),
            "i2t_r10": round(recall_at(similarity.T, 10), 4),
            "t2i_r1": round(recall_at(similarity, 1), 4),
            "images_per_s": round(len(paths) / seconds, 1),
        }
        report["paths"][mode]["vectors"] = vectors
    full, draft = report["paths"]["full"].pop("vectors"), report["paths"]["draft"].pop("vectors")
    cosines = np.sum(full * draft, axis=1)
    report["draft_vs_full_cosine"] = {"min": round(float(cosines.min()), 4), "mean": round(float(cosines.mean()), 4)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "draft_decode_recall.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Draft JPEG decoding and the trained catalog CLIP's held-out retrieval",
        "",
        (
            f"`python bench/draft_decode_recall.py`: the {len(rows)} held-out H&M articles of the training run "
            f"(seed {args.seed}), embedded through `load_image` + `encode_images`, ranked against their texts."
        ),
        "",
        "| decode | text→image R@10 | image→text R@10 | text→image R@1 | images/s (one pass, decode included) |",
        "|---|---:|---:|---:|---:|",
    ]
    for mode, row in report["paths"].items():
        lines.append(f"| {mode} | {row['t2i_r10']} | {row['i2t_r10']} | {row['t2i_r1']} | {row['images_per_s']} |")
    cos = report["draft_vs_full_cosine"]
    lines += ["", f"Image vectors, draft vs full: cosine min {cos['min']}, mean {cos['mean']}.", ""]
    (RESULTS / "draft_decode_recall.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
