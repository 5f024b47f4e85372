"""Train the behaviour model on this shop's events and register it as a model version.

    version = train_behaviour(activate=True)    # manage.py recommender_train; Celery task

The model is fitted by :func:`.fit.fit` (early stopping on validation NDCG@10); ``train_behaviour``
then builds the item co-occurrence table and tunes its weight (``tune_cooccurrence``), then on top
of that the product families' (``tune_family``: other variants of what the shopper had), then
recent popularity's (``tune_popularity``: what everybody bought in the last week), re-tunes each of
those with the others in place (``retune_parts``), then the weight of the shopper's own purchases
(``tune_repurchase``): the blend serving ranks "for you" with. ``tune_blend_chain`` runs that
chain once per co-occurrence similarity and keeps the one whose whole blend validates best. Last,
what each diversity λ costs that blend's served lists on validation (:mod:`.diversity_cost`):
``metrics["diversity_lambda"]`` is what "auto" diversity serves "for you" with.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
from django.utils import timezone

from recommender.behaviour.codes import PURCHASE
from recommender.behaviour.config import behaviour_config
from recommender.behaviour.cooccurrence import FAMILY_FILENAME, NEIGHBOURS, CooccurrenceTable, family_table
from recommender.behaviour.item_vectors import activate_item_vectors
from recommender.behaviour.model import save_artifact
from recommender.behaviour.popularity import RecentPopularity, recent_popularity
from recommender.behaviour.repurchase import repeat_purchases
from recommender.catalog import get_adapter
from recommender.models import ModelVersion
from recommender.training.behaviour.baselines import COSINE, COUNT, ProfileVector, Repurchase, Scorer, item_counts
from recommender.training.behaviour.buy_again import fit_buy_again
from recommender.training.behaviour.cooccurrence import PopularityScorer, TableScorer, build_table
from recommender.training.behaviour.data import SequenceData, Split
from recommender.training.behaviour.diversity_cost import kept_lambda, measure_diversity
from recommender.training.behaviour.evaluate import Blend, OwnPurchases, evaluate, tune_blend
from recommender.training.behaviour.fit import ModelScorer, TrainResult, fit, valid_sample
from recommender.training.behaviour.plots import plot_epochs
from recommender.training.behaviour.shop import load_shop
from recommender.training.behaviour.shop_split import shop_split
from recommender.versions import activate as activate_version
from recommender.versions import model_dir

__all__ = [
    "COOCCURRENCE_METRIC",
    "COOCCURRENCE_SIMILARITIES",
    "REPURCHASE_METRIC",
    "measure_diversities",
    "purchase_counts",
    "refit_on_everything",
    "retune_parts",
    "served_popularity",
    "train_behaviour",
    "tune_blend_chain",
    "tune_cooccurrence",
    "tune_family",
    "tune_popularity",
    "tune_repurchase",
]

# The validation metric the co-occurrence weight is tuned on: the shop's early-stopping metric
# when each shopper's newest product validates; on a time split, MAP@12 of the products new to the shopper (history
# masked), the part of "for you" that co-occurrence is for (own purchases are tuned next).
COOCCURRENCE_METRIC = "ndcg@10"
TIME_SPLIT_COOCCURRENCE_METRIC = "map@12"
# The co-occurrence similarities training tries (a whole blend each), the first winning ties.
COOCCURRENCE_SIMILARITIES = (COSINE, COUNT)
# The validation metric the repurchase weight is tuned on: MAP@12, as on H&M (behaviour_hm.md).
REPURCHASE_METRIC = "map@12"


def tune_cooccurrence(
    model_scorer: Scorer, split: Split, cfg: dict[str, Any], counts: np.ndarray, similarity: str = COSINE
) -> tuple[dict[str, Any], CooccurrenceTable | None]:
    """The item co-occurrence table of ``split.train`` (``similarity``: cosine or count) and its
    weight in ``log_softmax(model) + weight * cooc``.

    Returns (how it was found, the :class:`~recommender.behaviour.cooccurrence.CooccurrenceTable`
    or None). The weight is tuned on exactly what serving computes (each item's ``NEIGHBOURS``
    best, through :class:`~recommender.training.behaviour.cooccurrence.TableScorer`) with the offline
    evaluation's search (``tune_blend`` over ``BLEND_GRID``) on the validation users early
    stopping used, so it costs at most eleven validation passes. ``counts`` (item popularity in
    ``split.train``) sizes the table. Skipped (weight 0, no table, no passes) when no two
    products share a shopper: there is no co-occurrence to weigh.
    """
    started = time.perf_counter()
    table = build_table(split.train, len(counts), similarity=similarity)
    out = {**_tune_table(model_scorer, table, split, cfg, counts, started), "similarity": similarity}
    return out, (table if table.pairs else None)


def tune_blend_chain(
    model_scorer: Scorer, data: SequenceData, split: Split, cfg: dict[str, Any], counts: np.ndarray
) -> dict[str, Any]:
    """The whole blend serving ranks with, tuned part by part on validation: co-occurrence, then
    product families on top, then recent popularity, then each of those re-tuned with the others in
    place (:func:`retune_parts`), then the shopper's own purchases on top of that.

    Once for each of ``COOCCURRENCE_SIMILARITIES`` (which predicts a shop's next products better
    differs by shop; on H&M counts predict new purchases better, cosine the whole list), keeping the
    chain whose last tuned part scored best on validation: the blend as it will be served, so a
    similarity that wins on new products but crowds out "Buy again" loses. Ties: cosine.
    Returns ``{"cooccurrence": (info, table), "family": (info, table), "popularity": (info,
    popularity), "repurchase": info, "parts": [(info, scorer), ...], "own": scorer or None}``
    (``parts``: the tuned parts before own purchases, in serving's order; ``own``: the own-purchase
    scorer when its weight is positive), the co-occurrence info with ``by_similarity`` (each
    chain's final validation score) and ``retune_rounds``.
    """
    families = item_families(data.item_keys)
    best, by_similarity = None, {}
    for similarity in COOCCURRENCE_SIMILARITIES:
        cooccurrence, table = tune_cooccurrence(model_scorer, split, cfg, counts, similarity)
        parts = [(cooccurrence, TableScorer(table))] if table is not None else []
        family, siblings = tune_family(blend_of(model_scorer, parts), split, cfg, counts, families)
        parts += [(family, TableScorer(siblings))] if siblings is not None else []
        popularity, popular = tune_popularity(blend_of(model_scorer, parts), data, split, cfg, counts)
        parts += [(popularity, PopularityScorer(popular))] if popular is not None else []
        cooccurrence["retune_rounds"] = retune_parts(model_scorer, parts, split, cfg, counts)
        repurchase, own = tune_repurchase(blend_of(model_scorer, parts), data, split, cfg)
        tuned = [repurchase, *reversed([info for info, _ in parts])]
        last = next((part for part in tuned if part.get("by_weight")), {})
        by_similarity[similarity] = score = max(last.get("by_weight", {}).values(), default=0.0)
        if best is None or score > best[0]:
            best = (
                score,
                {
                    "cooccurrence": (cooccurrence, table),
                    "family": (family, siblings),
                    "popularity": (popularity, popular),
                    "repurchase": repurchase,
                    "parts": parts,
                    "own": own,
                },
            )
        if table is None:
            break  # no pair: no similarity has one either
    chain = best[1]
    chain["cooccurrence"] = ({**chain["cooccurrence"][0], "by_similarity": by_similarity}, chain["cooccurrence"][1])
    return chain


def blend_of(model_scorer: Scorer, parts: list[tuple[dict[str, Any], Scorer]]) -> Scorer:
    """``Blend(...Blend(model, part_1, w_1)..., part_n, w_n)`` over the parts with a positive weight
    (``info["weight"]``): the order serving adds them in (:func:`~recommender.behaviour.serving.blend_scores`)."""
    blend = model_scorer
    for info, other in parts:
        if info["weight"]:
            blend = Blend(blend, other, info["weight"])
    return blend


def retune_parts(
    model_scorer: Scorer, parts: list[tuple[dict[str, Any], Scorer]], split: Split, cfg: dict[str, Any], counts
) -> int:
    """Re-tune each part's weight with every other part in place, until a round changes none or
    after ``cfg["blend_rounds"]`` rounds; returns the rounds run.

    Tuned one after the other, each weight was chosen against the parts before it only: on H&M
    co-occurrence was tuned to 8 before families and popularity joined, and 16 validates better
    beside them (MAP@12 of new products 0.0525 to 0.0531 on validation). Each part's info takes
    its new ``weight`` and ``by_weight``, so the last one's best is the whole blend's validation score.
    """
    rounds = 0
    for rounds in range(1, int(cfg["blend_rounds"]) + 1):
        changed = False
        for i, (info, other) in enumerate(parts):
            rest = blend_of(model_scorer, [part for j, part in enumerate(parts) if j != i])
            found = _tune_part(rest, other, split, cfg, counts, time.perf_counter())
            changed |= found["weight"] != info["weight"]
            info.update(weight=found["weight"], by_weight=found["by_weight"])
        if not changed:
            break
    return rounds


def tune_popularity(
    scorer: Scorer, data: SequenceData, split: Split, cfg: dict[str, Any], counts: np.ndarray
) -> tuple[dict[str, Any], RecentPopularity | None]:
    """Recent popularity (:mod:`recommender.behaviour.popularity`) and its weight in
    ``log_softmax(scorer) + weight * popularity``, tuned as :func:`tune_cooccurrence` tunes its own.

    Counted over the ``popularity_days`` before validation starts, as a shop's next days follow its
    last week. Only on a time split: leave-last-out validates each shopper's newest product, bought
    at any time, so there is no "last week" to be popular in (weight 0, no popularity, no passes).
    Returns the weight's info and the popularity it was tuned with, the one every later step of the
    chain is tuned beside; serving reads :func:`served_popularity`. Re-tuning beside the served one,
    counted through the validation days, scored validation with its own purchases (on H&M half of
    them fall on those days).
    """
    started = time.perf_counter()
    days = float(cfg["popularity_days"])
    if days <= 0:
        return {"weight": 0.0, "skipped": "off (popularity_days is 0)"}, None
    if split.info.get("protocol") != "time split" or data.times is None:
        return {"weight": 0.0, "skipped": "popularity is tuned on a time split only"}, None
    valid_from = datetime.fromisoformat(split.info["valid_from"]).timestamp()
    tuning = recent_popularity(data.sequences, data.times, end=valid_from, days=days, n_items=data.n_items)
    if not tuning.scores.any():
        return {"weight": 0.0, "skipped": f"no event in the {days:g} days before validation"}, None
    out = {**_tune_part(scorer, PopularityScorer(tuning), split, cfg, counts, started), "days": days}
    return out, tuning


def served_popularity(data: SequenceData, days: float) -> RecentPopularity:
    """Recent popularity over the ``days`` up to the shop's newest event, validation days included:
    what serving reads once the weight is tuned, as the co-occurrence table is rebuilt on every event."""
    newest = max((times[-1] for times in data.times or [] if times), default=0.0)
    return recent_popularity(data.sequences, data.times, end=newest + 1.0, days=days, n_items=data.n_items)


def item_families(item_keys: list[str]) -> list[str]:
    """Each item's family (``CatalogAdapter.families``), '' for none, in ``item_keys`` order."""
    families = get_adapter().families(item_keys)
    return [families.get(key, "") for key in item_keys]


def tune_family(
    scorer: Scorer, split: Split, cfg: dict[str, Any], counts: np.ndarray, families: list[str]
) -> tuple[dict[str, Any], CooccurrenceTable | None]:
    """The family table (each item's other variants, :func:`~recommender.behaviour.cooccurrence.family_table`)
    and its weight in ``log_softmax(scorer) + weight * family``, tuned as :func:`tune_cooccurrence`
    tunes its own, on top of ``scorer`` (the model, or its blend with co-occurrence).

    Skipped (weight 0, no table, no passes) when no two products share a family, as in a shop
    whose catalog adapter names none.
    """
    started = time.perf_counter()
    table = family_table(families, counts)
    out = _tune_table(scorer, table, split, cfg, counts, started)
    out["families"] = len({family for family in families if family})
    return out, (table if table.pairs else None)


def _tune_table(
    scorer: Scorer, table: CooccurrenceTable, split: Split, cfg: dict[str, Any], counts: np.ndarray, started: float
) -> dict[str, Any]:
    """A neighbour table's weight on validation (:func:`_tune_part`); weight 0 without a pair."""
    out: dict[str, Any] = {"weight": 0.0, "neighbours": NEIGHBOURS, "pairs": table.pairs}
    if not table.pairs:
        return {**out, "seconds": round(time.perf_counter() - started, 2)}
    return {**out, **_tune_part(scorer, TableScorer(table), split, cfg, counts, started)}


def _tune_part(
    scorer: Scorer, other: Scorer, split: Split, cfg: dict[str, Any], counts, started: float
) -> dict[str, Any]:
    """``other``'s weight on top of ``scorer`` on validation: on a time split MAP@12 of the products
    new to the shopper (history masked), else the early-stopping metric."""
    if split.info.get("protocol") == "time split":
        new = split.valid.only_new()
        metric, ks = TIME_SPLIT_COOCCURRENCE_METRIC, (12,)
        out = _tune(scorer, other, new, cfg, counts, metric, ks, started, mask_history=True)
        return {**out, "metric": f"valid_new_{metric}"}
    return _tune(scorer, other, split.valid, cfg, counts, COOCCURRENCE_METRIC, (10,), started)


def tune_repurchase(
    scorer: Scorer, data: SequenceData, split: Split, cfg: dict[str, Any]
) -> tuple[dict[str, Any], OwnPurchases | None]:
    """The weight of the shopper's own purchases in ``log_softmax(scorer) + weight * own``, how it
    was found, and the own-purchase scorer when the weight is positive (else None).

    ``scorer(histories, types) -> (B, n_items)``: the model (:class:`ModelScorer`), or its blend
    with co-occurrence that serving ranks with, which the weight is then tuned on top of.
    Exactly the offline evaluation's search (:func:`~recommender.training.behaviour.evaluate.tune_blend`
    over ``BLEND_GRID`` with :class:`~recommender.training.behaviour.evaluate.OwnPurchases`, purchases only),
    on the validation users early stopping used (``valid_max_users``), so it costs at most eleven
    validation passes. Skipped (weight 0, no passes) when nobody in ``data`` bought a product
    twice: there is no re-buying for the weight to predict.

    The purchases are ranked first by the shop's buy-again ranker
    (:func:`~recommender.training.behaviour.buy_again.fit_buy_again`, on the same validation
    shoppers; ``out["ranker"]``, None: newest first), so the weight is tuned on the order served.
    """
    out: dict[str, Any] = {"repeat_purchases": repeat_purchases(data.sequences, data.types), "weight": 0.0}
    if not out["repeat_purchases"]:
        return out, None
    started = time.perf_counter()
    counts = item_counts(split.train, data.n_items)
    ranker, out["buy_again"] = fit_buy_again(split.valid, data.prices, min_shoppers=int(cfg["buy_again_min_shoppers"]))
    out["ranker"] = ranker.to_dict() if ranker is not None else None
    other = OwnPurchases(Repurchase(counts, ranker=ranker, prices=data.prices))
    out.update(_tune(scorer, other, split.valid, cfg, counts, REPURCHASE_METRIC, (12,), started))
    return out, (other if out["weight"] else None)


def refit_on_everything(
    data: SequenceData,
    cfg: dict[str, Any],
    epochs: int,
    *,
    progress: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """The model trained again, from the same seed, on every sequence (validation included) for
    the ``epochs`` validation chose: what serving uses.

    Validation held back the newest purchases (or each shopper's newest product), the ones the next
    purchases follow most; once it has chosen the epochs and the blend weights the model may learn
    from them too. On Amazon Scientific (leave-one-out) the served blend's Recall@10 rose from
    0.1315 to 0.1343 (model alone 0.0796 to 0.0862); on H&M it moved MAP@12 of new products from
    0.0439 to 0.0440. Costs a second training of ``epochs`` epochs without validation passes.
    """
    keep = [i for i, seq in enumerate(data.sequences) if len(seq) >= 2]
    types = [data.types[i] for i in keep] if data.types is not None else None
    return fit(
        data.features,
        [data.sequences[i] for i in keep],
        None,
        {**cfg, "epochs": epochs},
        train_types=types,
        progress=progress,
        on_epoch=(lambda row: on_epoch({**row, "refit": True})) if on_epoch else None,
    )


def purchase_counts(data: SequenceData) -> dict[str, Any]:
    """How many purchases the shop's sequences hold and how many repeat an earlier one: the
    ``repurchase_rate`` that "exclude purchased products" on auto follows
    (:mod:`recommender.behaviour.purchase_policy`). Consecutive events of one product are one
    (:func:`~recommender.training.behaviour.shop.load_shop` collapses them): buying two at once is no re-buy."""
    types = data.types or [[PURCHASE] * len(seq) for seq in data.sequences]
    total = sum(1 for kinds in types for k in kinds if k == PURCHASE)
    repeats = repeat_purchases(data.sequences, data.types)
    return {"purchases": total, "repeat_purchases": repeats, "repurchase_rate": repeats / total if total else 0.0}


def measure_diversities(
    model_scorer: Scorer, chain: dict[str, Any], features: np.ndarray, split: Split, cfg: dict[str, Any]
) -> dict[str, Any]:
    """What each MMR λ costs the tuned blend's served lists on validation (:mod:`.diversity_cost`),
    and the λ "auto" diversity keeps: ``{"lambda", "new": ..., "with_own": ... or None}`` (``lambda``
    None when no validation shopper could be scored).

    "new": the validation the blend was tuned on (a time split's products new to each shopper by
    MAP@12, else the early-stopping shoppers by NDCG@10), the shopper's own products left out;
    "with_own", where own purchases have a weight: every validation purchase by MAP@12 with "Buy
    again" in the lists, as the shop serves them when it offers them.
    """
    if split.info.get("protocol") == "time split":
        valid, metric, k = split.valid.only_new(), TIME_SPLIT_COOCCURRENCE_METRIC, 12
    else:
        valid, metric, k = split.valid, COOCCURRENCE_METRIC, 10
    parts = chain["parts"]
    new = measure_diversity(model_scorer, parts, features, valid_sample(valid, cfg), metric, k)
    with_own, own = None, chain["own"]
    if own is not None:
        weight = float(chain["repurchase"]["weight"])
        valid = valid_sample(split.valid, cfg)
        with_own = measure_diversity(model_scorer, parts, features, valid, REPURCHASE_METRIC, 12, own=(weight, own))
    return {"lambda": kept_lambda(new, with_own), "new": new, "with_own": with_own}


def _tune(
    scorer, other, valid, cfg: dict[str, Any], counts, metric: str, ks, started: float, *, mask_history: bool = False
) -> dict[str, Any]:
    """``tune_blend`` of ``other`` on the validation users early stopping used, as stored in metrics."""
    valid = valid_sample(valid, cfg)
    weight, by_weight = tune_blend(scorer, other, valid, counts, metric, ks, mask_history=mask_history)
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
    until: datetime | None = None,
) -> ModelVersion:
    """Train on the shop's events, save ``MODEL_DIR/behaviour-<stamp>/``, register a version.

    Sequences are each user's (or anonymous session's) views, clicks, add-to-carts and
    purchases in time order; item features are the serving encoder version's fused vectors.
    Validation (:func:`~recommender.training.behaviour.shop_split.shop_split`): the purchases of
    the last ``valid_days`` days, as "for you" is served, or for a shop with few buyers in that
    window the newest product of every sequence (``leave_last_out``); either way the model learns
    from everything else, and the test metrics are the validation set's. Early stopping, then :func:`tune_cooccurrence` (its table is saved as
    ``cooccurrence.npz`` with the model, its weight as ``metrics["cooccurrence_weight"]``), on top
    of it :func:`tune_family` (``families.npz``, ``metrics["family_weight"]``), then
    :func:`tune_popularity` (``popularity.npz``, ``metrics["popularity_weight"]``), each re-tuned
    beside the others (:func:`retune_parts`), and, on top of that blend, :func:`tune_repurchase` (``metrics["repurchase_weight"]``, used when
    the shop keeps purchased products in recommendations); "for you" serves the blend.
    ``activate=True`` activates the new version;
    ``activate=None`` activates it when ``auto_activate`` is set and its validation NDCG@10
    beats the active version's recorded one (or none is active). ``until``: train on the events
    before it only (:mod:`~recommender.training.behaviour.served`). ``metrics["repurchase_rate"]``
    (:func:`purchase_counts`) drives "exclude purchased products" on auto. Returns the ModelVersion.
    """
    cfg = behaviour_config(overrides)
    data = load_shop(cfg, until=until)
    split = shop_split(data, cfg)
    if len(split.valid) == 0:
        raise ValueError(
            f"Not enough events to train a behaviour model: no shopper has {cfg['min_events']} or more "
            "products in their history."
        )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    version = ModelVersion.objects.create(
        kind=ModelVersion.Kind.BEHAVIOUR,
        name=name or f"behaviour {stamp}",
        config=cfg,
        state=ModelVersion.State.TRAINING,
        dimensions=int(cfg["hidden"]),  # its product output vectors
    )
    try:
        result = fit(
            data.features,
            split.train,
            split.valid,
            cfg,
            train_types=split.train_types,
            progress=progress,
            on_epoch=on_epoch,
        )
        counts = item_counts(split.train, data.n_items)
        model_scorer = ModelScorer(result.model)
        test = evaluate(model_scorer, split.test, ks=(10, 50), counts=counts)
        profile = evaluate(ProfileVector(data.features), split.test, ks=(10, 50), counts=counts)
        chain = tune_blend_chain(model_scorer, data, split, cfg, counts)
        (cooccurrence, table), (family, families) = chain["cooccurrence"], chain["family"]
        popularity, popular = chain["popularity"]
        repurchase = chain["repurchase"]
        diversity = measure_diversities(model_scorer, chain, data.features, split, cfg)
        model, refit = result.model, {"epochs": 0}
        if cfg["refit"] and result.best_epoch > 0:
            final = refit_on_everything(data, cfg, result.best_epoch, progress=progress, on_epoch=on_epoch)
            model, refit = final.model, {"epochs": final.best_epoch, "seconds": round(final.seconds, 1)}
        if table is not None:
            # Tuned; now serve the co-occurrence of every event, the validation days' (or
            # products') included: they are the newest, and a shop's newest pairs are what the
            # next purchases follow.
            table = build_table(
                [seq for seq in data.sequences if len(seq) >= 2], data.n_items, similarity=cooccurrence["similarity"]
            )
            cooccurrence["served_pairs"] = table.pairs
        if popular is not None:  # likewise: this week's best-sellers up to the newest event
            popular = served_popularity(data, popularity["days"])
        folder = model_dir() / f"behaviour-{stamp}-{version.pk}"
        metrics = {
            "valid": {k: v for k, v in result.best_valid.items()},
            "test": test,
            "test_profile_vector": profile,
            "best_epoch": result.best_epoch,
            "refit": refit,
            "train_seconds": round(result.seconds, 1),
            "sequences": len(data.sequences),
            "items": data.n_items,
            "cooccurrence_weight": cooccurrence["weight"],
            "cooccurrence": cooccurrence,
            "family_weight": family["weight"],
            "family": family,
            "popularity_weight": popularity["weight"],
            "popularity": popularity,
            "repurchase_weight": repurchase["weight"],
            "repurchase": repurchase,
            "diversity_lambda": diversity["lambda"],
            "diversity": diversity,
            "validation": split.info,
            **purchase_counts(data),
        }
        save_artifact(
            model,
            folder,
            item_keys=data.item_keys,
            extra={"encoder_version_id": data.info["encoder_version"], "metrics": metrics},
        )
        if table is not None:  # saved even with weight 0: an admin may set the weight later
            table.save(folder)
        if families is not None:
            families.save(folder, FAMILY_FILENAME)
        if popular is not None:
            popular.save(folder)
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
        f"co-occurrence weight {cooccurrence['weight']:g}, family weight {family['weight']:g}, "
        f"popularity weight {popularity['weight']:g}, repurchase weight {repurchase['weight']:g}, "
        f"diversity λ {diversity['lambda'] if diversity['lambda'] is not None else 'not measured'}"
    )
    version.save()
    if activate is None and cfg["auto_activate"]:
        current = ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR)
        # Recorded validation scores of different training runs are compared as they are; the
        # validation sets differ as events accumulate, so a small margin is not meaningful.
        old = (current.metrics or {}).get("valid", {}).get("ndcg@10", -1.0) if current else -1.0
        activate = metrics["valid"].get("ndcg@10", 0.0) > old
    if activate:
        # Its product output vectors first, from the model in hand (with a progress bar on the
        # command line); activation then finds them written.
        index = {key: i for i, key in enumerate(data.item_keys)}
        activate_item_vectors(version, progress=progress, model=model.cpu(), item_index=index)
        activate_version(version)
    return version
