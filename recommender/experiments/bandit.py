"""Self-optimising slots: Thompson sampling over an experiment's variants.

Each variant's reward rate (clicks or purchases per exposure, the experiment's goal) has a
Beta(1 + rewards, 1 + misses) posterior, counted from ``bandit_reset_at`` on. A variant's share
of the traffic is ``min_exploration / k`` (an even floor, so no variant is starved by early bad
luck) plus ``(1 - min_exploration) ×`` the posterior probability that it is the best, which is
what Thompson sampling serves in expectation. The shares are written to ``Variant.bandit_share``
by :func:`update_bandit` (the ``recommender.update_bandits`` beat task, every minute), and the
assignment hash (``assignment.py``) splits shoppers by them: no statistics on a request.

Changing the variants (adding, removing, editing parameters) moves ``bandit_reset_at``: the
posteriors start again from the uniform prior, since old feedback was about other variants.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.core.cache import cache
from django.db import transaction

from recommender.conf import app_settings
from recommender.experiments.attribution import outcomes
from recommender.models import Experiment, Variant
from recommender.models.experiments import CONFIG_CACHE_KEY

__all__ = ["thompson_shares", "update_bandit", "update_bandits"]


def thompson_shares(
    rewards: Sequence[int], trials: Sequence[int], *, min_exploration: float, draws: int, seed: int = 0
) -> list[float]:
    """Traffic shares: the even floor plus the rest by each arm's posterior probability of being best."""
    k = len(rewards)
    if k == 0:
        return []
    rng = np.random.default_rng(seed)
    samples = np.stack(
        [rng.beta(1 + r, 1 + max(0, n - r), draws) for r, n in zip(rewards, trials, strict=True)], axis=1
    )
    best = np.bincount(samples.argmax(axis=1), minlength=k) / draws
    floor = min(1.0, max(0.0, min_exploration))
    return [float(floor / k + (1 - floor) * p) for p in best]


def update_bandit(experiment: Experiment) -> dict[str, float]:
    """Recompute and store the experiment's traffic shares; returns {variant name: share}."""
    variants = list(experiment.variants.order_by("-is_control", "pk"))
    if not variants:
        return {}
    goal_purchase = experiment.goal == Experiment.Goal.PURCHASE
    rewards = dict.fromkeys((v.pk for v in variants), 0)
    trials = dict.fromkeys((v.pk for v in variants), 0)
    for row in outcomes(experiment.pk, since=experiment.bandit_reset_at):
        if row.variant_id in trials:
            trials[row.variant_id] += 1
            rewards[row.variant_id] += int(row.purchased if goal_purchase else row.clicked)
    seed = sum(trials.values())  # the same feedback gives the same shares
    shares = thompson_shares(
        [rewards[v.pk] for v in variants],
        [trials[v.pk] for v in variants],
        min_exploration=experiment.min_exploration,
        draws=int(app_settings.EXPERIMENT_BANDIT_DRAWS),
        seed=seed,
    )
    with transaction.atomic():
        for variant, share in zip(variants, shares, strict=True):
            Variant.objects.filter(pk=variant.pk).update(bandit_share=share)
        # Now (this connection already reads the new shares) and after commit (a process that
        # reloaded the old ones in between would keep them for CONFIG_SECONDS).
        _forget_snapshot()
        transaction.on_commit(lambda: _forget_snapshot())
    return {v.name: s for v, s in zip(variants, shares, strict=True)}


def update_bandits() -> int:
    """Update every running bandit experiment; returns how many were updated."""
    running = Experiment.objects.filter(status=Experiment.Status.RUNNING, mode=Experiment.Mode.BANDIT)
    count = 0
    for experiment in running:
        update_bandit(experiment)
        count += 1
    return count


def _forget_snapshot() -> None:
    cache.delete(CONFIG_CACHE_KEY)
