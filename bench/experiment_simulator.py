"""Simulated shoppers for online experiments, driven through the real stack.

Each shopper gets a fresh anonymous session, asks the slot for recommendations (the real
``recommend()`` with ``record_impression=True``, which assigns the variant and records the
exposure, or ``GET`` on the REST API through Django's test client), and then, with the true
probabilities set for the variant they were shown, clicks the first product (``record_event`` /
``POST events/`` with the slot, as the beacon does), adds it to the cart and buys it. Nothing is
written to the tables directly: the statistics read what the stack stored.

    truth = {"control": Truth(click=0.2), "treatment": Truth(click=0.24)}
    simulate(experiment, truth, shoppers=2000, rng=np.random.default_rng(0))
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from recommender.events import record_event
from recommender.models import Experiment
from recommender.recommend import recommend

__all__ = ["SimulationResult", "Truth", "make_experiment", "simulate"]


@dataclass(frozen=True)
class Truth:
    """A variant's true behaviour: P(click | shown), P(add to cart | click), P(purchase | cart)."""

    click: float
    cart: float = 0.0
    purchase: float = 0.0
    quantity: int = 1


@dataclass
class SimulationResult:
    shown: Counter
    clicks: Counter
    timeline: list[str]  # the variant each shopper saw, in order


def make_experiment(name: str, slot: str, variants: dict[str, dict], *, mode: str = "ab", **fields) -> Experiment:
    """A running experiment; ``variants``: name -> Variant fields (the first is the control)."""
    experiment = Experiment.objects.create(name=name, slots=[slot], mode=mode, **fields)
    for i, (variant_name, params) in enumerate(variants.items()):
        experiment.variants.create(name=variant_name, is_control=i == 0, **params)
    experiment.status = Experiment.Status.RUNNING
    experiment.save()
    return experiment


def simulate(
    experiment: Experiment,
    truth: dict[str, Truth],
    *,
    shoppers: int,
    rng: np.random.Generator,
    strategy: str = "trending",
    client=None,
    every: int = 0,
    on_batch: Callable[[], object] | None = None,
) -> SimulationResult:
    """Run ``shoppers`` simulated visits of the experiment's first slot.

    ``client``: a Django test client to go through the REST API (else the Python API);
    ``on_batch`` is called every ``every`` shoppers (the bandit's beat task, say).
    """
    slot = experiment.slots[0]
    shown: Counter = Counter()
    clicks: Counter = Counter()
    timeline = []
    for i in range(shoppers):
        if every and on_batch is not None and i and i % every == 0:
            on_batch()
        if client is not None:
            variant, served, keys, act = _via_api(client, strategy, slot)
        else:
            variant, served, keys, act = _via_python(strategy, slot)
        if not keys:
            raise AssertionError("The slot served nothing: the simulation would measure nothing.")
        shown[variant] += 1
        timeline.append(variant)
        t = truth[variant]
        if rng.random() >= t.click:
            continue
        clicks[variant] += 1
        act("click", keys[0], slot=slot, strategy=served)
        if rng.random() >= t.cart:
            continue
        act("add_to_cart", keys[0])
        if rng.random() < t.purchase:
            act("purchase", keys[0], quantity=t.quantity)
    return SimulationResult(shown, clicks, timeline)


def _via_python(strategy: str, slot: str):
    session = uuid.uuid4().hex
    recs = recommend(strategy, session_key=session, slot=slot, limit=4, record_impression=True)

    def act(kind: str, key: str, **extra) -> None:
        record_event(kind, session_key=session, product_key=key, update_profile=False, **extra)

    return recs.variant, recs.strategy, recs.keys, act


def _via_api(client, strategy: str, slot: str):
    client.cookies.clear()
    path = f"/api/recommender/{strategy.replace('_', '-')}/"
    # A first event makes the anonymous session (as a product page's view would).
    first = client.get(path, {"slot": slot, "limit": 4}).json()
    _post(client, "view", first["results"][0]["product_id"])
    body = client.get(path, {"slot": slot, "limit": 4}).json()

    def act(kind: str, key: str, **extra) -> None:
        _post(client, kind, key, **extra)

    return body["variant"], body["strategy"], [r["product_id"] for r in body["results"]], act


def _post(client, kind: str, key: str, **extra) -> None:
    response = client.post(
        "/api/recommender/events/",
        json.dumps({"type": kind, "product_id": key, **extra}),
        content_type="application/json",
    )
    if response.status_code != 201:
        raise AssertionError(f"{kind} event refused: {response.status_code} {response.content[:200]!r}")
