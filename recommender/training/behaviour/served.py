"""Served = evaluated: "for you" through the real serving path, scored as the benchmarks score.

    report = served_evaluation(cut)        # manage.py recommender_evaluate --served --cut 2020-09-20
    report = served_evaluation(protocol=LEAVE_ONE_OUT)   # --served --protocol leave-one-out

Inside one database transaction that is rolled back at the end:

1. the targets are taken out of the shop. On a time split (``cut``), every shopper's purchases
   from the cut on are their targets and every event from the cut on is deleted, so serving sees
   only what the shop had at the cut (H&M: MAP@12). Leave-one-out (what the Amazon benchmarks
   define), every shopper's newest product is their one target and its events are deleted
   (Recall@10, NDCG@10, full ranking);
2. the behaviour model is trained with exactly what ``recommender_train`` runs
   (:func:`~recommender.training.behaviour.train.train_behaviour`; leave-one-out validates on each
   shopper's newest remaining product, as the benchmark validates on the one before the test
   item) and activated, with the result cache off;
3. ``recommend("for_you", user=…, limit=k)`` is asked for every shopper with a target and a
   history, once as the shop serves it ("all") and once with the shopper's history excluded
   ("new", the products new to them); where the shop diversifies (diversity λ below 1), both
   again with relevance alone, so the report shows what the shop's diversity costs;
4. MAP@k, Recall@k and NDCG@k are scored, beside the same blend scored offline over the whole
   catalogue and the baselines, all on the same shoppers and targets.

Nothing of it stays: the rollback removes the version, its vectors, the settings change and
restores the deleted events, and the artifact folder is deleted. The shop keeps serving its own
active version meanwhile (events recorded during the run are not touched: only rows that
existed are deleted).
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import datetime
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from tqdm import tqdm

from recommender.behaviour import serving
from recommender.behaviour.config import behaviour_config
from recommender.behaviour.cooccurrence import FAMILY_FILENAME, FILENAME, family_table, load_table
from recommender.behaviour.model import load_artifact
from recommender.behaviour.popularity import load_popularity
from recommender.behaviour.purchase_policy import excludes_purchased, repurchase_rate
from recommender.behaviour.repurchase import BuyAgainRanker
from recommender.diversity import diversity_lambda
from recommender.models import Event, EventType, ModelVersion, ProductVector, RecommenderSettings
from recommender.models.config import CACHE_KEY
from recommender.recommend import recommend
from recommender.training.behaviour.baselines import (
    ALS,
    COUNT,
    CoocKNN,
    FamilyVariants,
    Popularity,
    Repurchase,
    item_counts,
)
from recommender.training.behaviour.cooccurrence import PopularityScorer, TableScorer
from recommender.training.behaviour.data import EvalSet, SequenceData
from recommender.training.behaviour.evaluate import Blend, OwnPurchases, evaluate
from recommender.training.behaviour.fit import ModelScorer
from recommender.training.behaviour.metrics import average_precision_at_k, ndcg_at_k, recall_at_k
from recommender.training.behaviour.shop import load_shop
from recommender.training.behaviour.train import item_families, train_behaviour
from recommender.versions import serving_version

__all__ = ["LEAVE_ONE_OUT", "LEAVE_ONE_OUT_K", "SERVED_K", "TIME_SPLIT", "served_evaluation", "served_metrics"]

logger = logging.getLogger(__name__)

TIME_SPLIT, LEAVE_ONE_OUT = "time split", "leave-one-out"
# "For you" asked for 12 products on a time split: the H&M competition's MAP@12.
SERVED_K = 12
# And for 10 leave-one-out: the Amazon benchmarks' Recall@10 and NDCG@10.
LEAVE_ONE_OUT_K = 10
# Popularity over the newest days before the cut: the H&M baseline that needs no model.
RECENT_DAYS = 4


class _Rollback(Exception):
    """Raised to undo the evaluation's changes, carrying its report."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__("served evaluation done")
        self.report = report


def served_metrics(ranked: list[list[int]], targets: list[list[int]], k: int = SERVED_K) -> dict[str, float]:
    """Mean MAP@k, Recall@k and NDCG@k of ranked lists (best first) against their targets."""
    n = len(ranked)
    if not n:
        return {"users": 0}
    sums = {f"map@{k}": 0.0, f"recall@{k}": 0.0, f"ndcg@{k}": 0.0}
    for row, wanted in zip(ranked, targets, strict=True):
        sums[f"map@{k}"] += average_precision_at_k(row, wanted, k)
        sums[f"recall@{k}"] += recall_at_k(row, wanted, k)
        sums[f"ndcg@{k}"] += ndcg_at_k(row, wanted, k)
    return {**{name: value / n for name, value in sums.items()}, "users": n}


def _owner(user_id: Any, session_key: str) -> str:
    return f"u{user_id}" if user_id is not None else f"s{session_key}"


def _targets(cut: datetime) -> dict[str, tuple[Any, str, list[str]]]:
    """owner -> (user id, session key, distinct products bought from ``cut`` on, in order)."""
    out: dict[str, tuple[Any, str, list[str]]] = {}
    rows = (
        Event.objects.filter(type=EventType.PURCHASE, created_at__gte=cut)
        .exclude(product_key="")
        .order_by("created_at", "pk")
        .values_list("user_id", "session_key", "product_key")
    )
    for user_id, session_key, key in rows.iterator():
        entry = out.setdefault(_owner(user_id, session_key), (user_id, session_key, []))
        if key not in entry[2]:
            entry[2].append(key)
    return out


def _newest_products(cfg: dict[str, Any]) -> dict[str, tuple[Any, str, list[str]]]:
    """owner -> (user id, session key, [their newest product]) for every shopper with an earlier
    product too; the newest product's trailing events (a view, then its purchase) are deleted, so
    serving sees the history before it. Only catalogue products (with a vector) count, as training
    reads them."""
    version = serving_version()
    known = set(
        ProductVector.objects.filter(version=version, embedding__isnull=False).values_list("product_key", flat=True)
    )
    rows = (
        Event.objects.filter(type__in=cfg["event_types"], product_key__in=known)
        .order_by("created_at", "pk")
        .values_list("pk", "user_id", "session_key", "product_key")
    )
    newest: dict[str, tuple[Any, str, str]] = {}
    trailing: dict[str, list[int]] = {}
    products: dict[str, int] = {}
    for pk, user_id, session_key, key in rows.iterator():
        owner = _owner(user_id, session_key)
        if owner in newest and newest[owner][2] == key:
            trailing[owner].append(pk)
            continue
        newest[owner], trailing[owner] = (user_id, session_key, key), [pk]
        products[owner] = products.get(owner, 0) + 1
    targets = {owner: (u, s, [key]) for owner, (u, s, key) in newest.items() if products[owner] >= 2}
    doomed = [pk for owner in targets for pk in trailing[owner]]
    for start in range(0, len(doomed), 10_000):
        Event.objects.filter(pk__in=doomed[start : start + 10_000]).delete()
    return targets


def _baselines(data: SequenceData, cut: datetime | None) -> dict[str, Any]:
    """The simple baselines, fitted on every sequence the shop kept; popularity over the last
    days before the cut on a time split, over everything leave-one-out. Where the catalog names
    product families, their other variants then popularity too."""
    counts = item_counts(data.sequences, data.n_items)
    out: dict[str, Any] = {
        "own purchases, then popularity": Repurchase(counts),
        "item co-occurrence kNN": CoocKNN(data.sequences, data.n_items, counts),
        "item co-occurrence kNN (count)": CoocKNN(data.sequences, data.n_items, counts, similarity=COUNT),
        "ALS (implicit)": ALS(data.sequences, data.n_items),
    }
    popular, name = counts.astype(float), "popularity"
    if cut is not None:
        popular, name = np.zeros(data.n_items), f"popularity, last {RECENT_DAYS} days"
        since = cut.timestamp() - RECENT_DAYS * 86_400.0
        for seq, times in zip(data.sequences, data.times or [], strict=False):
            for item, t in zip(seq, times, strict=True):
                if t >= since:
                    popular[item] += 1.0
    siblings = family_table(item_families(data.item_keys), counts)
    if siblings.pairs:
        out["other variants of their products, then popularity"] = FamilyVariants(siblings, popular)
    return {**out, name: Popularity(popular)}


def served_evaluation(
    cut: datetime | None = None,
    *,
    protocol: str = TIME_SPLIT,
    overrides: dict[str, Any] | None = None,
    max_shoppers: int | None = None,
    baselines: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Take the targets out (purchases from ``cut`` on, or each shopper's newest product with
    ``protocol=LEAVE_ONE_OUT``), train as the shop does, serve "for you" to every shopper with a
    target, and score it beside the offline blend and the baselines (see the module docstring).

    Raises ValueError for an unknown protocol, a time split without a cut or leave-one-out with
    one, when no shopper has both a history and a target, or when training finds too little data (the message says which).
    """
    if protocol not in (TIME_SPLIT, LEAVE_ONE_OUT):
        raise ValueError(f"Unknown protocol {protocol!r}: {TIME_SPLIT!r} or {LEAVE_ONE_OUT!r}.")
    if protocol == TIME_SPLIT and cut is None:
        raise ValueError("A time split needs a cut: the model trains on the events before it.")
    if protocol == LEAVE_ONE_OUT:
        if cut is not None:
            raise ValueError("Leave-one-out takes no cut: each shopper's newest product is held out.")
        # Validated on each shopper's newest remaining product, as the benchmark validates.
        overrides = {**(overrides or {}), "valid_days": 0}
    cfg = behaviour_config(overrides)
    folder = None
    try:
        with transaction.atomic():
            report, folder = _run(cut, cfg, overrides, max_shoppers, baselines, progress)
            raise _Rollback(report)
    except _Rollback as done:
        report = done.report
    finally:
        cache.delete(CACHE_KEY)  # the settings cached inside the rolled-back transaction
        serving.clear_cache()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    return report


def _run(cut, cfg, overrides, max_shoppers, baselines, progress) -> tuple[dict[str, Any], Any]:
    k = SERVED_K if cut is not None else LEAVE_ONE_OUT_K
    if cut is not None:
        targets = _targets(cut)
        Event.objects.filter(created_at__gte=cut).delete()
    else:
        targets = _newest_products(cfg)
    settings = RecommenderSettings.get()
    settings.cache_seconds = 0  # every answer computed, none cached
    settings.save()
    started = time.perf_counter()
    version, folder, note = None, None, ""
    try:
        version = train_behaviour(overrides=overrides, activate=True, progress=progress, until=cut)
        folder = serving.artifact_path(version)
    except ValueError as exc:  # too little history: the shop serves profiles, and so is it scored
        note = f"no behaviour model ({exc}); served from profile vectors"
        logger.info("Served evaluation: %s", note)
        ModelVersion.objects.filter(kind=ModelVersion.Kind.BEHAVIOUR, state=ModelVersion.State.ACTIVE).update(
            state=ModelVersion.State.RETIRED
        )
    train_seconds = time.perf_counter() - started
    data = load_shop(cfg, until=cut)  # what training read, every shopper's whole history
    index = {key: i for i, key in enumerate(data.item_keys)}
    by_owner = {owner: i for i, owner in enumerate(data.user_keys)}
    owners = [o for o in targets if o in by_owner and any(k in index for k in targets[o][2])]
    if max_shoppers:
        owners = owners[:max_shoppers]
    if not owners:
        if cut is None:
            raise ValueError("No shopper has two catalogue products to hold the newest one out.")
        raise ValueError(f"Nobody with events before {cut.isoformat()} bought a catalogue product from it on.")
    histories, types, wanted = [], [], []
    for owner in owners:
        bought = targets[owner][2]
        row = by_owner[owner]
        histories.append(data.sequences[row])
        types.append(data.types[row] if data.types else [])
        wanted.append([index[k] for k in bought if k in index])
    served_all, served_new, seconds = _serve(owners, targets, data, by_owner, index, k, progress)
    measured = serving.measured_diversity(version) if version is not None else None
    setting = settings.diversity_lambda  # None: auto, the version's measured λ
    diversity = diversity_lambda(setting, measured)
    undiversified = None
    if diversity < 1.0:  # what the shop's diversity costs: the same asks with relevance alone
        settings.diversity_lambda = 1.0
        settings.save()
        undiversified = _serve(owners, targets, data, by_owner, index, k, progress, desc="diversity off")
    evalset = EvalSet(histories, wanted, types if data.types else None)
    fresh = evalset.only_new()  # the shoppers with a target new to them, as served_new's rows
    new_rows = [i for i, (h, t) in enumerate(zip(histories, wanted, strict=True)) if set(t) - set(h)]
    metrics = (version.metrics if version is not None else None) or {}
    report: dict[str, Any] = {
        "protocol": TIME_SPLIT if cut is not None else LEAVE_ONE_OUT,
        "k": k,
        "cut": cut.isoformat() if cut is not None else None,
        "shoppers": len(owners),
        "shoppers_new": len(fresh),
        "behaviour_model": note or "trained and served",
        "version": {
            "validation": metrics.get("validation"),
            "cooccurrence_weight": metrics.get("cooccurrence_weight"),
            "cooccurrence_similarity": (metrics.get("cooccurrence") or {}).get("similarity"),
            "by_similarity": (metrics.get("cooccurrence") or {}).get("by_similarity"),
            "family_weight": metrics.get("family_weight"),
            "popularity_weight": metrics.get("popularity_weight"),
            "repurchase_weight": metrics.get("repurchase_weight"),
            "repurchase_rate": metrics.get("repurchase_rate"),
            "buy_again": (metrics.get("repurchase") or {}).get("buy_again"),
            "best_epoch": metrics.get("best_epoch"),
            "refit": metrics.get("refit"),
            "train_seconds": round(train_seconds, 1),
        },
        "purchase_policy": {
            "setting": RecommenderSettings.get().exclude_purchased,
            "excludes_purchased": excludes_purchased(RecommenderSettings.get()),
            "repurchase_rate": repurchase_rate(version) if version is not None else None,
        },
        "latency_ms": {
            "p50": round(float(np.percentile(seconds, 50)) * 1000, 2),
            "p95": round(float(np.percentile(seconds, 95)) * 1000, 2),
        },
        "diversity_lambda": diversity,
        "diversity_setting": "auto" if setting is None else "set",
        "diversity_measured": metrics.get("diversity"),
        "all": {"served for you": served_metrics(served_all, wanted, k)},
        "new": {"served for you": served_metrics([served_new[i] for i in new_rows], fresh.targets, k)},
    }
    if undiversified is not None:
        name = "served for you, diversity off"
        report["all"][name] = served_metrics(undiversified[0], wanted, k)
        report["new"][name] = served_metrics([undiversified[1][i] for i in new_rows], fresh.targets, k)
    scorers: dict[str, Any] = {}
    if folder is not None:
        scorers["offline blend (same version)"] = _offline_blend(folder, data, metrics)
    if baselines:
        scorers.update(_baselines(data, cut))
    for name, scorer in scorers.items():
        report["all"][name] = _offline(scorer, evalset, k, mask=False)
        report["new"][name] = _offline(scorer, fresh, k, mask=True)
    return report, folder


def _serve(
    owners: list[str], targets, data: SequenceData, by_owner, index, k: int, progress: bool, desc: str = "served"
) -> tuple[list[list[int]], list[list[int]], list[float]]:
    """``recommend("for_you", limit=k)`` for every owner as the shop serves it, and again with
    their history excluded (the products new to them): both as item indices (-1: not an item of
    ``data``), and the seconds each first ask took."""
    users = get_user_model()
    served_all, served_new, seconds = [], [], []
    for owner in tqdm(owners, desc=f'"for you" {desc}', unit="shopper", disable=not progress):
        user_id, session_key, _ = targets[owner]
        user = users(pk=user_id) if user_id is not None else None
        session = session_key if user is None else ""
        seen = [data.item_keys[i] for i in data.sequences[by_owner[owner]]]
        t0 = time.perf_counter()
        keys = recommend("for_you", user=user, session_key=session, limit=k).keys
        seconds.append(time.perf_counter() - t0)
        served_all.append([index.get(key, -1) for key in keys])
        new = recommend("for_you", user=user, session_key=session, limit=k, exclude_keys=seen)
        served_new.append([index.get(key, -1) for key in new.keys])
    return served_all, served_new, seconds


def _offline_blend(folder, data: SequenceData, metrics: dict[str, Any]) -> Blend:
    """The version's blend over the whole catalogue, as the offline evaluation scores it:
    ``Blend(Blend(Blend(Blend(model, co-occurrence, w_c), families, w_f), recent popularity, w_p),
    own purchases, w_r)``, the purchases in the order of the version's buy-again ranker."""
    model, _, _ = load_artifact(folder, data.features)
    blend: Any = ModelScorer(model)
    for filename, name in ((FILENAME, "cooccurrence_weight"), (FAMILY_FILENAME, "family_weight")):
        table = load_table(folder, filename)
        weight = float(metrics.get(name) or 0.0) if table is not None else 0.0
        blend = Blend(blend, TableScorer(table), weight) if weight else Blend(blend, None, 0.0)
    popular = load_popularity(folder)
    weight = float(metrics.get("popularity_weight") or 0.0) if popular is not None else 0.0
    blend = Blend(blend, PopularityScorer(popular), weight) if weight else Blend(blend, None, 0.0)
    ranker = BuyAgainRanker.from_dict((metrics.get("repurchase") or {}).get("ranker"))
    own = OwnPurchases(Repurchase(np.ones(data.n_items), ranker=ranker, prices=data.prices))
    return Blend(blend, own, float(metrics.get("repurchase_weight") or 0.0))


def _offline(scorer, evalset: EvalSet, k: int, *, mask: bool) -> dict[str, float]:
    """MAP@k, Recall@k, NDCG@k of ``scorer`` over the whole catalogue, ``mask``: history removed."""
    out = evaluate(scorer, evalset, ks=(k,), map_k=k, mask_history=mask)
    if not out["users"]:  # nobody to score (no shopper bought anything new to them)
        return {"users": 0}
    return {key: out[key] for key in (f"map@{k}", f"recall@{k}", f"ndcg@{k}", "users")}
