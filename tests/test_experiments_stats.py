"""The experiment statistics: reference values, calibration under fixed seeds, and the simulator
through the real stack (A/A and A/B counts read back exactly; the bandit moves traffic).

The 200-experiment A/A and the A/B power through the stack are in ``bench/experiments.py``
(``bench/results/experiments.md``): here the calibration runs on numpy draws (2,000 experiments),
and a smaller through-the-stack run checks that the stack stores exactly what the shoppers did.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client

from bench.experiment_simulator import Truth, make_experiment, simulate
from recommender.experiments import statistics as st
from recommender.experiments.bandit import thompson_shares, update_bandit
from recommender.experiments.report import experiment_report
from recommender.models import Experiment


def test_reference_values():
    # Wilson 95 % for 10/100 (Newcombe 1998, table I: 0.0552 to 0.1744).
    interval = st.wilson(10, 100)
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.0552, 0.1744)
    assert st.wilson(0, 0) == st.Interval(0.0, 0.0, 0.0)
    # Chi-square critical values at 0.05 for 1, 2 and 5 degrees of freedom.
    for x, df in ((3.841459, 1), (5.991465, 2), (11.070498, 5)):
        assert st.chi2_sf(x, df) == pytest.approx(0.05, abs=1e-6)
    assert st.chi2_sf(0.0, 3) == 1.0
    assert st.normal_ppf(0.975) == pytest.approx(1.959964, abs=1e-6)
    # 90/200 vs 110/200: pooled 0.5, standard error 0.05, z = 2 exactly → p = 0.0455.
    assert st.two_proportion_test(90, 200, 110, 200) == pytest.approx(0.04550, abs=1e-4)
    # Fleiss' classic example: 10 % → 12 %, α 0.05 two-sided, power 0.8: 3,841 per group.
    assert st.sample_size(0.10, 0.20) == 3941  # 3841 by the plain formula, + Fleiss continuity correction
    with pytest.raises(ValueError):
        st.sample_size(0.9, 0.2)


def test_a_a_false_positive_rate_is_near_alpha_and_a_broken_test_would_fail():
    rng = np.random.default_rng(7)
    runs, n = 2000, 500
    a, b = rng.binomial(n, 0.2, runs), rng.binomial(n, 0.2, runs)
    rate = np.mean([st.two_proportion_test(int(x), n, int(y), n) < 0.05 for x, y in zip(a, b, strict=True)])
    assert 0.03 <= rate <= 0.07
    # The same check catches an anti-conservative test (a one-sided p-value used two-sided).
    broken = np.mean([st.two_proportion_test(int(x), n, int(y), n) / 2 < 0.05 for x, y in zip(a, b, strict=True)])
    assert broken > 0.07


def test_the_planners_sample_size_gives_the_promised_power():
    rng = np.random.default_rng(11)
    n = st.sample_size(0.2, 0.2)
    a, b = rng.binomial(n, 0.2, 2000), rng.binomial(n, 0.24, 2000)
    power = np.mean([st.two_proportion_test(int(x), n, int(y), n) < 0.05 and y > x for x, y in zip(a, b, strict=True)])
    assert 0.795 <= power <= 0.85  # promised 0.8 (at least); Monte Carlo error ~0.009
    half = np.mean(
        [st.two_proportion_test(int(x), n // 2, int(y), n // 2) < 0.05 for x, y in zip(a // 2, b // 2, strict=True)]
    )
    assert half < 0.7  # half the sample is clearly not enough


def test_bootstrap_revenue_and_bayesian_probability():
    rng = np.random.default_rng(3)
    buyers = lambda n, p: rng.binomial(1, p, n) * rng.gamma(2.0, 20.0, n)
    same = [st.bootstrap_difference(buyers(400, 0.05), buyers(400, 0.05), seed=i)[0] < 0.05 for i in range(200)]
    assert 0.02 <= np.mean(same) <= 0.09
    p, beat = st.bootstrap_difference(buyers(2000, 0.05), buyers(2000, 0.10))
    assert p < 0.01 and beat > 0.99
    assert st.probability_to_beat(100, 1000, 130, 1000) > 0.95
    assert 0.45 < st.probability_to_beat(100, 1000, 100, 1000) < 0.55
    interval = st.bootstrap_mean_interval([0, 0, 0, 10.0])
    assert interval.low <= 2.5 <= interval.high


def test_sample_ratio_mismatch_flags_a_broken_split_only():
    assert st.sample_ratio_mismatch([5030, 4970], [1, 1]) > 0.3
    assert st.sample_ratio_mismatch([5300, 4700], [1, 1]) < 1e-6
    assert st.sample_ratio_mismatch([7500, 2500], [3, 1]) > 0.9


def test_thompson_shares_respect_the_floor_and_follow_the_evidence():
    even = thompson_shares([0, 0], [0, 0], min_exploration=0.1, draws=10000, seed=0)
    assert even == pytest.approx([0.5, 0.5], abs=0.02)
    clear = thompson_shares([20, 60], [200, 200], min_exploration=0.1, draws=10000, seed=0)
    assert clear[1] == pytest.approx(0.95, abs=0.005) and clear[0] == pytest.approx(0.05, abs=0.005)


@pytest.mark.django_db
def test_simulated_a_b_through_the_rest_api_is_read_back_exactly(vector_shop, settings):
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-events": None}}
    experiment = make_experiment("api sim", "home", {"a": {"strategy": "trending"}, "b": {"strategy": "trending"}})
    # 5 % vs 75 %: at about 30 shoppers each the z-test misses once in 10^5 or fewer, whatever the split
    # (the split follows the experiment's id, which the database chooses).
    truth = {"a": Truth(0.05, 0.5, 0.5, quantity=2), "b": Truth(0.75, 0.5, 0.5, quantity=2)}
    sim = simulate(experiment, truth, shoppers=60, rng=np.random.default_rng(5), client=Client())
    report = experiment_report(experiment)
    by_name = {row.variant.name: row for row in report.variants}
    for name in ("a", "b"):
        assert by_name[name].impressions == sim.shown[name] > 0
        assert by_name[name].clicks == sim.clicks[name]
    assert by_name["b"].vs_control.ctr_diff > 0
    assert by_name["b"].vs_control.ctr_p_value < 0.05  # a 15x difference at n=30 is plain
    assert report.srm_p_value > 0.001


@pytest.mark.django_db
def test_simulated_bandit_moves_traffic_to_the_better_variant(vector_shop):
    experiment = make_experiment(
        "bandit sim",
        "home",
        {"worse": {"strategy": "trending"}, "better": {"strategy": "trending"}},
        mode=Experiment.Mode.BANDIT,
        min_exploration=0.1,
    )
    truth = {"worse": Truth(0.1), "better": Truth(0.5)}
    sim = simulate(
        experiment,
        truth,
        shoppers=300,
        rng=np.random.default_rng(1),
        every=30,
        on_batch=lambda: update_bandit(experiment),
    )
    assert sim.timeline[:30].count("better") < 25  # the first batch is an even split
    assert sim.timeline[-100:].count("better") >= 80
    # Editing a variant resets the bandit: shares back to the weights.
    variant = experiment.variants.get(name="better")
    variant.diversity_lambda = 0.5
    variant.save()
    assert set(experiment.variants.values_list("bandit_share", flat=True)) == {None}
