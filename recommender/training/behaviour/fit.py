"""Fit the behaviour model on item sequences: the training loop, with no Django (benchmarks use it too).

    result = fit(features, split.train, split.valid, behaviour_config({"epochs": 20}))
    result.model, result.history, result.best_epoch
    final = fit(features, everything, None, {**cfg, "epochs": result.best_epoch})   # refit: no validation
    scores = ModelScorer(result.model)(histories, types)     # (B, n_items), for evaluate()

Softmax cross-entropy over the whole catalogue at every position of every training sequence
(sampled softmax with shared uniform negatives above ``full_softmax_max_items``), Adam, early
stopping on validation NDCG@10 (the best epoch's weights are kept), seeded. Without a validation
set it trains ``cfg["epochs"]`` epochs and keeps the last: the refit on every event once
validation chose the epochs. Training on this shop's events: :mod:`.train`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from recommender.behaviour.model import BehaviourModel, pad_left
from recommender.training.behaviour.data import EvalSet
from recommender.training.behaviour.evaluate import evaluate

__all__ = ["ModelScorer", "TrainResult", "fit", "resolve_device", "seed_everything", "valid_sample"]

logger = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class ModelScorer:
    """``scorer(histories, types) -> (B, n_items)`` for :func:`evaluate`."""

    def __init__(self, model: BehaviourModel, device: torch.device | None = None) -> None:
        self.model = model
        self.device = device or next(model.parameters()).device

    @torch.inference_mode()
    def __call__(self, histories, types=None) -> np.ndarray:
        was_training = self.model.training
        self.model.eval()
        items, kinds = pad_left(histories, int(self.model.cfg["max_len"]), types)
        scores = self.model.scores(items.to(self.device), kinds.to(self.device)).float().cpu().numpy()
        self.model.train(was_training)
        return scores


@dataclass
class TrainResult:
    model: BehaviourModel
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_valid: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    device: str = "cpu"


def _windows(
    sequences: list[list[int]], types: list[list[int]] | None, max_len: int
) -> list[tuple[list[int], list[int] | None]]:
    """Training windows of max_len + 1 items, newest first, covering each whole sequence."""
    out = []
    for i, seq in enumerate(sequences):
        kinds = types[i] if types is not None else None
        end = len(seq)
        while end >= 2:
            start = max(0, end - max_len - 1)
            out.append((seq[start:end], kinds[start:end] if kinds is not None else None))
            end = start + 1 if start > 0 else 0
    return out


def valid_sample(valid: EvalSet, cfg: dict[str, Any]) -> EvalSet:
    """The validation users early stopping scores: a fixed, seeded sample of ``valid_max_users``."""
    limit = int(cfg["valid_max_users"])
    if limit and len(valid) > limit:
        valid = valid.subset(sorted(np.random.default_rng(int(cfg["seed"])).choice(len(valid), limit, replace=False)))
    return valid


def fit(
    features: np.ndarray,
    train: list[list[int]],
    valid: EvalSet | None,
    cfg: dict[str, Any],
    *,
    train_types: list[list[int]] | None = None,
    progress: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train a :class:`BehaviourModel`; the returned model holds the best validation epoch's weights,
    or without ``valid`` the last epoch's (``cfg["epochs"]`` of them, no early stopping)."""
    torch.set_num_threads(int(cfg["torch_threads"]))
    seed_everything(int(cfg["seed"]))
    device = resolve_device(str(cfg["device"]))
    model = BehaviourModel(features, cfg).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
    max_len = int(cfg["max_len"])
    windows = _windows(train, train_types, max_len)
    if not windows:
        raise ValueError("No training sequence has two or more items.")
    n_items = model.n_items
    sampled = n_items > int(cfg["full_softmax_max_items"])
    generator = torch.Generator().manual_seed(int(cfg["seed"]))
    batch_size = int(cfg["batch_size"])
    result = TrainResult(model=model, device=str(device))
    valid = valid_sample(valid, cfg) if valid is not None else None
    best_score, best_state, stale = -1.0, None, 0
    started = time.perf_counter()
    for epoch in range(1, int(cfg["epochs"]) + 1):
        model.train()
        order = torch.randperm(len(windows), generator=generator).tolist()
        total, steps = 0.0, 0
        bar = tqdm(range(0, len(order), batch_size), disable=not progress, desc=f"epoch {epoch}", leave=False)
        for start in bar:
            rows = [windows[i] for i in order[start : start + batch_size]]
            seqs = [r[0] for r in rows]
            kinds = [r[1] for r in rows] if train_types is not None else None
            items, types = pad_left([s[:-1] for s in seqs], max_len, [k[:-1] for k in kinds] if kinds else None)
            targets, _ = pad_left([s[1:] for s in seqs], max_len)
            items, types, targets = items.to(device), types.to(device), targets.to(device)
            hidden = model(items, types)
            valid_pos = (targets > 0) & (items > 0)
            h = hidden[valid_pos]
            y = targets[valid_pos] - 1
            table = model.item_table()
            if sampled:
                negatives = torch.randint(0, n_items, (int(cfg["sampled_negatives"]),), generator=generator).to(device)
                candidates, y = torch.unique(torch.cat([y, negatives]), return_inverse=True)
                y = y[: len(h)]
                logits = model.logits(h, table[candidates])
            else:
                logits = model.logits(h, table)
            loss = F.cross_entropy(logits, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += loss.item()
            steps += 1
            bar.set_postfix(loss=f"{total / steps:.3f}")
        row: dict[str, Any] = {"epoch": epoch, "train_loss": total / max(steps, 1)}
        if valid is not None:
            valid_metrics = evaluate(ModelScorer(model, device), valid, ks=(10, 50))
            for name in ("ndcg@10", "recall@10", "recall@50"):
                row[f"valid_{name}"] = valid_metrics.get(name, 0.0)
        row["seconds"] = time.perf_counter() - started
        result.history.append(row)
        if on_epoch:
            on_epoch(row)
        logger.info("behaviour epoch %s: %s", epoch, row)
        if valid is None:  # a refit: every epoch runs, the last is kept
            result.best_epoch = epoch
            continue
        if row["valid_ndcg@10"] > best_score:
            best_score, stale = row["valid_ndcg@10"], 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            result.best_epoch, result.best_valid = epoch, valid_metrics
        else:
            stale += 1
            if stale >= int(cfg["patience"]):
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - started
    return result
