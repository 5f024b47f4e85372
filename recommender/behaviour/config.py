"""Behaviour-model hyperparameters: defaults, overridden by ``RECOMMENDER["BEHAVIOUR"]`` and the caller.

    cfg = behaviour_config({"epochs": 5})      # DEFAULTS < RECOMMENDER["BEHAVIOUR"] < overrides
    cfg = hyperparameters({"epochs": 5})       # DEFAULTS < overrides, no Django (benchmarks)

The setting is read through :data:`recommender.conf.app_settings` like every other one (on each
call, never at import, so ``override_settings`` applies). Its keys are lower-case: they are the
hyperparameter names saved with every trained model (``config.json``), not setting names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from recommender.conf import app_settings

__all__ = ["DEFAULTS", "behaviour_config", "hyperparameters"]

DEFAULTS: dict[str, Any] = {
    # Transformer size. 64-d, 2 layers, 2 heads is SASRec's setting for Amazon-sized data.
    "hidden": 64,
    "layers": 2,
    "heads": 2,
    "ff_mult": 2,
    # The newest events the model reads (SASRec uses 50 on Amazon data).
    "max_len": 50,
    # Dropout on activations and on the frozen item features (small data overfits fast; 0.5
    # beat 0.3 on Amazon and H&M: bench/results/behaviour_sweep.md).
    "dropout": 0.5,
    "feature_dropout": 0.1,
    # Input item representation: adapter of the feature vector ("mlp" or "linear") plus a learned
    # ID embedding when True.
    "adapter": "mlp",
    "id_embedding": True,
    # Output vectors: linear in the feature vector, plus (output_id "tied") the input's ID
    # embedding, so what the model learns about an item beyond its features also ranks it;
    # "" ranks by features alone. Serving stores them in pgvector per behaviour version.
    "output_id": "tied",
    # Items are scored by cosine(user state, output vector) / temperature; serving queries pgvector
    # by cosine, so this must stay positive.
    "temperature": 0.1,
    # Optimisation.
    "epochs": 60,
    "batch_size": 128,
    "lr": 1e-3,
    "weight_decay": 0.0,
    # Early stopping on validation NDCG@10: stop after this many epochs without improvement.
    "patience": 5,
    # Validation users scored after each epoch (a fixed seeded sample; 0 = all of them).
    "valid_max_users": 3000,
    # Above this many items, train with a sampled softmax of this many shared negatives.
    "full_softmax_max_items": 50_000,
    "sampled_negatives": 8192,
    "seed": 0,
    "device": "auto",
    "torch_threads": 2,
    # Shop training data: which events make the sequences, and whom to train on.
    "event_types": ["view", "click", "add_to_cart", "purchase"],
    "min_events": 3,
    "max_events_per_user": 200,
    # Validation on a time split, the way "for you" is served: train on events before the last
    # ``valid_days`` days, validate (early stopping, blend weights) on what each shopper bought in
    # them. H&M's offline blend was tuned on one such day. A shop where fewer than
    # ``time_split_min_users`` shoppers with earlier events bought in that window validates
    # on each shopper's newest product instead (leave-last-out); 0 days: always leave-last-out.
    "valid_days": 1.0,
    "time_split_min_users": 200,
    # "Buy again" order: a ranker of each shopper's purchases (recency and price) is learned on the
    # validation shoppers who bought something again, when at least this many did and it beats
    # newest-first on held-out shoppers (recommender.training.behaviour.buy_again).
    "buy_again_min_shoppers": 30,
    # Recent popularity in the blend: each product's events in the last ``popularity_days`` days
    # (recommender.behaviour.popularity), its weight tuned on a time split (0 on leave-last-out).
    "popularity_days": 7.0,
    # After each part's weight is tuned on top of the ones before, re-tune each with all the others
    # in place, up to this many rounds (0: one pass, in order); on H&M one round moved
    # co-occurrence from 8 to 16 and a second changed nothing.
    "blend_rounds": 2,
    # Once validation has chosen the epochs and the blend, train the model again on every event
    # (validation included) for those epochs and serve that one; False serves the validated model.
    "refit": True,
    # recommender_train activates the new version when its validation NDCG@10 beats the active one's.
    "auto_activate": False,
}


def hyperparameters(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """DEFAULTS updated by each of ``layers`` in turn; ValueError naming any unknown key."""
    cfg = dict(DEFAULTS)
    for layer in layers:
        cfg.update(layer or {})
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown behaviour-model settings: {unknown}; known: {sorted(DEFAULTS)}")
    return cfg


def behaviour_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """DEFAULTS, then ``RECOMMENDER["BEHAVIOUR"]`` (read now, never at import), then ``overrides``."""
    configured = app_settings.BEHAVIOUR or {}  # None: no overrides
    if not isinstance(configured, Mapping):
        raise ImproperlyConfigured(
            f'RECOMMENDER["BEHAVIOUR"] must be a dict of hyperparameters, not {type(configured).__name__}.'
        )
    return hyperparameters(configured, overrides)
