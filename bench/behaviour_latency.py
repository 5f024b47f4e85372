"""Latency of the behaviour model at request time, and agreement of pgvector with the model's ranking.

    python bench/behaviour_amazon.py        # first: trains and saves var/behaviour/behaviour_amazon_model
    python bench/behaviour_latency.py [--shoppers 200]

In a throw-away test database of the test suite's embedded Postgres: the 4,385 Amazon items
become products with their MiniLM vectors (an active 384-d encoder version with HNSW indexes),
the trained model becomes the active behaviour version (activation, timed, writes the items'
output vectors and their HNSW index), and each shopper's test history (<= 50 events) is stored
as events. Timed per shopper: ``behaviour_user_vector`` (two queries and one forward pass) and
the pgvector ``nearest`` query over the behaviour version's rows; and how many of the model's
own top 10 (full scoring in torch) the HNSW query returns.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ARTIFACT = ROOT / "var" / "behaviour" / "behaviour_amazon_model"
FEATURES = ROOT / "var" / "behaviour" / "amazon_scientific_minilm.npy"
DATA = ROOT.parent / "shared" / "data" / "amazon_scientific"
RESULTS = ROOT / "bench" / "results"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shoppers", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    import torch

    torch.set_num_threads(1)
    django.setup()
    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = "test_behaviour_latency"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        report = measure(args.shoppers)
    finally:
        connection.creation.destroy_test_db("test_behaviour_latency", verbosity=0)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "behaviour_latency.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


def measure(shoppers: int) -> dict:
    from datetime import timedelta

    import torch
    from django.utils import timezone

    from bench.datasets import load_amazon_scientific
    from recommender.behaviour.model import load_artifact, pad_left
    from recommender.behaviour.serving import behaviour_user_vector, clear_cache
    from recommender.models import Event, ModelVersion
    from recommender.storage import VectorRow, ensure_indexes, nearest, store_vectors
    from recommender.training.behaviour.data import leave_one_out
    from recommender.versions import activate

    features = np.load(FEATURES)
    encoder = ModelVersion.objects.create(
        kind="encoder", name="minilm", dimensions=features.shape[1], state="active", config={"MODEL": "bench"}
    )
    store_vectors(
        encoder,
        [
            VectorRow(
                key=str(i),
                embedding=v,
                image_embedding=v,
                text_embedding=v,
                title=str(i),
                category="",
                price=None,
                in_stock=True,
            )
            for i, v in enumerate(features)
        ],
    )
    ensure_indexes(encoder)
    hidden = json.loads((ARTIFACT / "config.json").read_text())["hyperparameters"]["hidden"]
    behaviour = ModelVersion.objects.create(
        kind="behaviour",
        name="amazon",
        artifact=str(ARTIFACT),
        state="ready",
        config={"encoder_version_id": encoder.pk},
        dimensions=hidden,
    )
    t = time.perf_counter()
    activate(behaviour)  # writes every product's output vector and its HNSW index
    activation_s = time.perf_counter() - t
    clear_cache()
    model, _, _ = load_artifact(ARTIFACT, features)
    split = leave_one_out(load_amazon_scientific(DATA).sequences)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(split.test), shoppers, replace=False)
    now = timezone.now()
    Event.objects.bulk_create(
        [
            Event(
                type="purchase",
                session_key=f"s{row}",
                product_key=str(item),
                processed=True,
                created_at=now - timedelta(minutes=len(split.test.histories[row]) - i),
            )
            for row in rows
            for i, item in enumerate(split.test.histories[row][-50:])
        ]
    )
    behaviour_user_vector(None, f"s{rows[0]}")  # load the model once
    vector_ms, query_ms, overlap = [], [], []
    for row in rows:
        t = time.perf_counter()
        vector = behaviour_user_vector(None, f"s{row}")
        vector_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        hits = nearest(vector, version=behaviour, k=10)
        query_ms.append((time.perf_counter() - t) * 1000)
        with torch.inference_mode():
            items, types = pad_left([split.test.histories[row]], 50)
            top = torch.topk(model.scores(items, types)[0], 10).indices.tolist()
        overlap.append(len({int(k) for k, _ in hits} & set(top)) / 10)

    def pct(values: list[float]) -> dict:
        return {
            "p50_ms": round(float(np.percentile(values, 50)), 2),
            "p95_ms": round(float(np.percentile(values, 95)), 2),
        }

    return {
        "what": "behaviour_user_vector (events query + vectors query + forward) and pgvector nearest(k=10)",
        "shoppers": shoppers,
        "items": int(features.shape[0]),
        "dimensions": int(features.shape[1]),
        "behaviour_user_vector": pct(vector_ms),
        "nearest_k10_hnsw": pct(query_ms),
        "activation_seconds (output vectors + HNSW index)": round(activation_s, 2),
        "hnsw_top10_equals_model_top10": round(float(np.mean(overlap)), 4),
        "torch_threads": 1,
    }


if __name__ == "__main__":
    raise SystemExit(main())
