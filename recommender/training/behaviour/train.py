"""Training: ``fit`` on sequences (benchmarks, tests) and ``train_behaviour`` on this shop's events.

    result = fit(features, split.train, split.valid, behaviour_config({"epochs": 20}))
    result.model, result.history, result.best_epoch

    version = train_behaviour(activate=True)    # manage.py recommender_train; Celery task

Softmax cross-entropy over the whole catalogue at every position of every training sequence
(sampled softmax with shared uniform negatives above ``full_softmax_max_items``), Adam, early
stopping on validation NDCG@10 (the best epoch's weights are kept), seeded. On the shop,
``train_behaviour`` then builds the item co-occurrence table and tunes its weight
(``tune_cooccurrence``), then, on top of that blend, the weight of the shopper's own purchases
(``tune_repurchase``): the blend serving ranks "for you" with.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from recommender.behaviour.data import EvalSet
from recommender.behaviour.evaluate import evaluate
from recommender.behaviour.model import BehaviourModel, pad_left

if TYPE_CHECKING:
    from recommender.behaviour.baselines import Scorer
    from recommender.behaviour.cooccurrence import CooccurrenceTable

__all__ = [
    "ModelScorer",
    "TrainResult",
    "fit",
    "resolve_device",
    "train_behaviour",
    "tune_cooccurrence",
    "tune_repurchase",
    "valid_sample",
]

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
    valid: EvalSet,
    cfg: dict[str, Any],
    *,
    train_types: list[list[int]] | None = None,
    progress: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train a :class:`BehaviourModel`; the returned model holds the best validation epoch's weights."""
    from tqdm import tqdm

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
    valid = valid_sample(valid, cfg)
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
        valid_metrics = evaluate(ModelScorer(model, device), valid, ks=(10, 50))
        row = {
            "epoch": epoch,
            "train_loss": total / max(steps, 1),
            "valid_ndcg@10": valid_metrics.get("ndcg@10", 0.0),
            "valid_recall@10": valid_metrics.get("recall@10", 0.0),
            "valid_recall@50": valid_metrics.get("recall@50", 0.0),
            "seconds": time.perf_counter() - started,
        }
        result.history.append(row)
        if on_epoch:
            on_epoch(row)
        logger.info("behaviour epoch %s: %s", epoch, row)
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


# --- this shop ------------------------------------------------------------------------------------

# The validation metric the co-occurrence weight is tuned on: the shop's early-stopping metric.
COOCCURRENCE_METRIC = "ndcg@10"
# The validation metric the repurchase weight is tuned on: MAP@12, as on H&M (behaviour_hm.md).
REPURCHASE_METRIC = "map@12"


def tune_cooccurrence(
    model_scorer: Scorer, split, cfg: dict[str, Any], counts: np.ndarray
) -> tuple[dict[str, Any], CooccurrenceTable | None]:
    """The item co-occurrence table of ``split.train`` and its weight in ``log_softmax(model) + weight * cooc``.

    Returns (how it was found, the :class:`~recommender.behaviour.cooccurrence.CooccurrenceTable`
    or None). The weight is tuned on exactly what serving computes (each item's ``NEIGHBOURS``
    best, through :class:`~recommender.behaviour.cooccurrence.TableScorer`) with the offline
    evaluation's search (``tune_blend`` over ``BLEND_GRID``) on the validation users early
    stopping used, so it costs at most nine validation passes. ``counts`` (item popularity in
    ``split.train``) sizes the table. Skipped (weight 0, no table, no passes) when no two
    products share a shopper: there is no co-occurrence to weigh.
    """
    from recommender.behaviour.cooccurrence import NEIGHBOURS, TableScorer, build_table

    started = time.perf_counter()
    table = build_table(split.train, len(counts))
    out: dict[str, Any] = {"weight": 0.0, "neighbours": NEIGHBOURS, "pairs": table.pairs}
    if not table.pairs:
        return {**out, "seconds": round(time.perf_counter() - started, 2)}, None
    out.update(_tune(model_scorer, TableScorer(table), split, cfg, counts, COOCCURRENCE_METRIC, (10,), started))
    return out, table


def tune_repurchase(scorer: Scorer, data, split, cfg: dict[str, Any]) -> dict[str, Any]:
    """The weight of the shopper's own purchases in ``log_softmax(scorer) + weight * own``, and how it was found.

    ``scorer(histories, types) -> (B, n_items)``: the model (:class:`ModelScorer`), or its blend
    with co-occurrence that serving ranks with, which the weight is then tuned on top of.
    Exactly the offline evaluation's search (:func:`~recommender.behaviour.evaluate.tune_blend`
    over ``BLEND_GRID`` with :class:`~recommender.behaviour.evaluate.OwnPurchases`, purchases only),
    on the validation users early stopping used (``valid_max_users``), so it costs at most nine
    validation passes. Skipped (weight 0, no passes) when nobody in ``data`` bought a product
    twice: there is no re-buying for the weight to predict.
    """
    from recommender.behaviour.baselines import Repurchase, item_counts
    from recommender.behaviour.evaluate import OwnPurchases
    from recommender.behaviour.repurchase import repeat_purchases

    out: dict[str, Any] = {"repeat_purchases": repeat_purchases(data.sequences, data.types), "weight": 0.0}
    if not out["repeat_purchases"]:
        return out
    started = time.perf_counter()
    counts = item_counts(split.train, data.n_items)
    out.update(_tune(scorer, OwnPurchases(Repurchase(counts)), split, cfg, counts, REPURCHASE_METRIC, (12,), started))
    return out


def _tune(scorer, other, split, cfg: dict[str, Any], counts, metric: str, ks, started: float) -> dict[str, Any]:
    """``tune_blend`` of ``other`` on the validation users early stopping used, as stored in metrics."""
    from recommender.behaviour.evaluate import tune_blend

    valid = valid_sample(split.valid, cfg)
    weight, by_weight = tune_blend(scorer, other, valid, counts, metric, ks)
    return {
        "weight": float(weight),
        "metric": f"valid_{metric}",
        "by_weight": {str(w): float(v) for w, v in by_weight.items()},
        "valid_users": len(valid),
        "seconds": round(time.perf_counter() - started, 2),
    }


def train_behaviour(
    *,
    overrides: dict[str, Any] | None = None,
    activate: bool | None = None,
    name: str = "",
    progress: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
):
    """Train on the shop's events, save ``MODEL_DIR/behaviour-<stamp>/``, register a version.

    Sequences are each user's (or anonymous session's) views, clicks, add-to-carts and
    purchases in time order; item features are the serving encoder version's fused vectors.
    Leave-one-out: the newest item of every sequence is the test target, the one before it the
    validation target: early stopping, then :func:`tune_cooccurrence` (its table is saved as
    ``cooccurrence.npz`` with the model, its weight as ``metrics["cooccurrence_weight"]``) and,
    on top of that blend, :func:`tune_repurchase` (``metrics["repurchase_weight"]``, used when
    the shop keeps purchased products in recommendations); "for you" serves the blend.
    ``activate=True`` activates the new version;
    ``activate=None`` activates it when ``auto_activate`` is set and its validation NDCG@10
    beats the active version's recorded one (or none is active). Returns the ModelVersion.
    """
    from django.utils import timezone

    from recommender.behaviour.baselines import ProfileVector, item_counts
    from recommender.behaviour.config import behaviour_config
    from recommender.behaviour.cooccurrence import TableScorer
    from recommender.behaviour.data import leave_one_out, load_shop
    from recommender.behaviour.evaluate import Blend
    from recommender.behaviour.model import save_artifact
    from recommender.behaviour.plots import plot_epochs
    from recommender.behaviour.serving import active_behaviour_version
    from recommender.models import ModelVersion
    from recommender.versions import activate as activate_version
    from recommender.versions import model_dir

    cfg = behaviour_config(overrides)
    data = load_shop(cfg)
    split = leave_one_out(data.sequences, data.types, min_length=max(3, int(cfg["min_events"])))
    if len(split.valid) == 0:
        raise ValueError(
            f"Not enough events to train a behaviour model: no shopper has {cfg['min_events']} or more "
            "products in their history."
        )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    version = ModelVersion.objects.create(
        kind=ModelVersion.Kind.BEHAVIOUR, name=name or f"behaviour {stamp}", config=cfg,
        state=ModelVersion.State.TRAINING, dimensions=int(cfg["hidden"]),  # its product output vectors
    )  # fmt: skip
    try:
        result = fit(data.features, split.train, split.valid, cfg, train_types=split.train_types,
                     progress=progress, on_epoch=on_epoch)  # fmt: skip
        counts = item_counts(split.train, data.n_items)
        model_scorer = ModelScorer(result.model)
        test = evaluate(model_scorer, split.test, ks=(10, 50), counts=counts)
        profile = evaluate(ProfileVector(data.features), split.test, ks=(10, 50), counts=counts)
        cooccurrence, table = tune_cooccurrence(model_scorer, split, cfg, counts)
        blend = (
            Blend(model_scorer, TableScorer(table), cooccurrence["weight"]) if cooccurrence["weight"] else model_scorer
        )
        repurchase = tune_repurchase(blend, data, split, cfg)
        folder = model_dir() / f"behaviour-{stamp}-{version.pk}"
        metrics = {
            "valid": {k: v for k, v in result.best_valid.items()},
            "test": test,
            "test_profile_vector": profile,
            "best_epoch": result.best_epoch,
            "train_seconds": round(result.seconds, 1),
            "sequences": len(data.sequences),
            "items": data.n_items,
            "cooccurrence_weight": cooccurrence["weight"],
            "cooccurrence": cooccurrence,
            "repurchase_weight": repurchase["weight"],
            "repurchase": repurchase,
        }
        save_artifact(result.model, folder, item_keys=data.item_keys,
                      extra={"encoder_version_id": data.info["encoder_version"], "metrics": metrics})  # fmt: skip
        if table is not None:  # saved even with weight 0: an admin may set the weight later
            table.save(folder)
        plot_epochs(result.history, folder / "training_curves.png", title=version.name)
    except Exception as exc:
        version.state, version.message = ModelVersion.State.FAILED, f"{type(exc).__name__}: {exc}"
        version.save(update_fields=["state", "message"])
        raise
    try:
        artifact = str(folder.relative_to(model_dir()))
    except ValueError:
        artifact = str(folder)
    version.artifact = artifact
    version.config = {**cfg, "encoder_version_id": data.info["encoder_version"]}
    version.metrics = {**metrics, "history": result.history}
    version.state, version.progress = ModelVersion.State.READY, 1.0
    version.message = (
        f"valid NDCG@10 {metrics['valid'].get('ndcg@10', 0):.4f}, test NDCG@10 {test.get('ndcg@10', 0):.4f}, "
        f"co-occurrence weight {cooccurrence['weight']:g}, repurchase weight {repurchase['weight']:g}"
    )
    version.save()
    if activate is None and cfg["auto_activate"]:
        current = active_behaviour_version()
        # Recorded validation scores of different training runs are compared as they are; the
        # validation sets differ as events accumulate, so a small margin is not meaningful.
        old = (current.metrics or {}).get("valid", {}).get("ndcg@10", -1.0) if current else -1.0
        activate = metrics["valid"].get("ndcg@10", 0.0) > old
    if activate:
        from recommender.behaviour.item_vectors import activate_item_vectors

        # Its product output vectors first, from the model in hand (with a progress bar on the
        # command line); activation then finds them written.
        index = {key: i for i, key in enumerate(data.item_keys)}
        activate_item_vectors(version, progress=progress, model=result.model.cpu(), item_index=index)
        activate_version(version)
    return version
