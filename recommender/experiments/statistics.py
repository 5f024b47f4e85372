"""The statistics of an experiment, in plain numpy and math (no scipy), each with its caveat.

- :func:`wilson` — a 95 % interval for a rate (Wilson score: honest for small counts and rates
  near 0, where the normal interval goes below zero).
- :func:`two_proportion_test` — the pooled two-proportion z-test of a variant's rate against the
  control's: two-sided p-value. Assumes independent impressions (see README "Experiments").
- :func:`probability_to_beat` — the Bayesian probability that the variant's true rate is higher
  than the control's, from Beta(1 + successes, 1 + failures) posteriors (uniform priors),
  by Monte Carlo with a fixed seed, so a page shows the same number twice.
- :func:`bootstrap_mean_interval` / :func:`bootstrap_difference` — revenue per impression is
  not a proportion (most impressions earn nothing, a few earn a lot): intervals and the p-value
  come from resampling impressions.
- :func:`sample_ratio_mismatch` — chi-square of the assignment counts against the configured
  weights; a small p-value means the assignment (or the logging) is broken, not the variant.
- :func:`sample_size` — impressions per variant needed to detect a relative lift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext

__all__ = [
    "Interval",
    "bootstrap_difference",
    "bootstrap_mean_interval",
    "chi2_sf",
    "normal_ppf",
    "probability_to_beat",
    "sample_ratio_mismatch",
    "sample_size",
    "two_proportion_test",
    "wilson",
]

Z95 = 1.959963984540054  # the 97.5 % point of the standard normal: two-sided 95 %
SEED = 20_260_319  # fixed: the same data always gives the same Monte Carlo / bootstrap numbers
DRAWS = 20_000  # Monte Carlo error of a probability: about 0.0035 at 0.5
BOOTSTRAP_ROUNDS = 2_000


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float


def normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def normal_ppf(p: float) -> float:
    """The inverse of :func:`normal_cdf` by bisection (precise to 1e-12, only used for planning)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be strictly between 0 and 1.")
    low, high = -40.0, 40.0
    for _ in range(200):
        mid = (low + high) / 2
        if normal_cdf(mid) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def wilson(successes: int, trials: int, z: float = Z95) -> Interval:
    """The rate successes/trials with its Wilson score interval (0, 0, 0 without trials)."""
    if trials <= 0:
        return Interval(0.0, 0.0, 0.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_test(s1: int, n1: int, s2: int, n2: int) -> float:
    """Two-sided p-value of the pooled z-test that rates s1/n1 and s2/n2 are equal (1.0 when undefined)."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (s2 / n2 - s1 / n1) / se
    return math.erfc(abs(z) / math.sqrt(2.0))


def probability_to_beat(s_control: int, n_control: int, s_variant: int, n_variant: int, *, seed: int = SEED) -> float:
    """P(variant's rate > control's rate) under independent Beta(1 + s, 1 + n - s) posteriors."""
    rng = np.random.default_rng(seed)
    control = rng.beta(1 + s_control, 1 + max(0, n_control - s_control), DRAWS)
    variant = rng.beta(1 + s_variant, 1 + max(0, n_variant - s_variant), DRAWS)
    return float(np.mean(variant > control))


def bootstrap_mean_interval(values: Sequence[float], *, seed: int = SEED) -> Interval:
    """Mean of ``values`` with a 95 % percentile-bootstrap interval."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Interval(0.0, 0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = _resampled_means(rng, data)
    low, high = np.percentile(means, [2.5, 97.5])
    return Interval(float(data.mean()), float(low), float(high))


def bootstrap_difference(
    control: Sequence[float], variant: Sequence[float], *, seed: int = SEED
) -> tuple[float, float]:
    """(two-sided p-value, P(variant mean > control mean)) of the difference of two means, by
    resampling each group: the p-value is twice the smaller tail of the resampled differences
    around zero (1.0 when a group is empty)."""
    a, b = np.asarray(control, dtype=float), np.asarray(variant, dtype=float)
    if a.size == 0 or b.size == 0:
        return 1.0, 0.5
    rng = np.random.default_rng(seed)
    diffs = _resampled_means(rng, b) - _resampled_means(rng, a)
    above, below = float(np.mean(diffs > 0)), float(np.mean(diffs < 0))
    ties = 1.0 - above - below
    p = min(1.0, 2 * min(above + ties / 2, below + ties / 2))
    return p, above + ties / 2


def _resampled_means(rng: np.random.Generator, data: np.ndarray) -> np.ndarray:
    """Bootstrap means; by counts (multinomial) so memory stays O(n), not O(rounds × n)."""
    if data.size == 1:
        return np.full(BOOTSTRAP_ROUNDS, float(data[0]))
    counts = rng.multinomial(data.size, np.full(data.size, 1.0 / data.size), size=BOOTSTRAP_ROUNDS)
    return counts @ data / data.size


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for a chi-square with ``df`` degrees of freedom (regularised upper gamma Q(df/2, x/2))."""
    if df <= 0:
        raise ValueError("df must be positive.")
    if x <= 0:
        return 1.0
    return _gamma_q(df / 2.0, x / 2.0)


def _gamma_q(a: float, x: float) -> float:
    """Regularised upper incomplete gamma: a series below a + 1, a continued fraction above."""
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(1000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_prefix) * h)


def sample_ratio_mismatch(counts: Sequence[int], weights: Sequence[float]) -> float:
    """p-value of the chi-square test that ``counts`` follow ``weights`` (1.0 when it cannot be run)."""
    total = sum(counts)
    weight_sum = sum(weights)
    pairs = [(c, w / weight_sum) for c, w in zip(counts, weights, strict=True) if w > 0] if weight_sum > 0 else []
    if total <= 0 or len(pairs) < 2:
        return 1.0
    statistic = sum((c - total * share) ** 2 / (total * share) for c, share in pairs)
    return chi2_sf(statistic, len(pairs) - 1)


def sample_size(baseline: float, relative_lift: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Impressions per variant for a two-sided two-proportion test to detect ``baseline`` →
    ``baseline × (1 + relative_lift)`` with the given power.

    The classic normal approximation, with Fleiss' continuity correction: without it the achieved
    power of the z-test falls just short of the promise (0.794 for 10 % → 12 % in simulation),
    because counts are whole numbers; with it the promise holds.
    """
    if not 0 < baseline < 1:
        raise ValueError(gettext("The baseline rate must be between 0 and 1."))
    target = baseline * (1 + relative_lift)
    if relative_lift == 0 or not 0 < target < 1:
        raise ValueError(gettext("The lift must be non-zero and keep the rate between 0 and 1."))
    z_alpha, z_power = normal_ppf(1 - alpha / 2), normal_ppf(power)
    mean = (baseline + target) / 2
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(
        baseline * (1 - baseline) + target * (1 - target)
    )
    n = spread**2 / (target - baseline) ** 2
    corrected = n / 4 * (1 + math.sqrt(1 + 4 / (n * abs(target - baseline)))) ** 2
    return math.ceil(corrected)
