"""An experiment's results as the admin, the API and the benchmark show them.

    report = experiment_report(experiment)
    report.variants[1].ctr.value, report.variants[1].vs_control.ctr_p_value, report.srm_p_value

Units are exposures (one rendering of the slot to one shopper): CTR is the share of exposures
followed by a click on that slot, add-to-cart rate and conversion the share followed by an
add-to-cart or purchase, revenue per impression the mean attributed revenue per exposure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from recommender.experiments import statistics as st
from recommender.experiments.attribution import Outcome, outcomes
from recommender.models import Experiment, Variant

__all__ = ["SRM_ALPHA", "Comparison", "DailyPoint", "ExperimentReport", "VariantReport", "experiment_report"]

# Sample-ratio mismatch is flagged below this p-value: strict, since with a working assignment
# it should essentially never fire, and a false alarm stops a good experiment.
SRM_ALPHA = 0.001
METRICS = ("ctr", "cart_rate", "conversion")


@dataclass(frozen=True)
class Comparison:
    """A variant against the control: absolute differences, p-values and P(beats control)."""

    ctr_diff: float
    ctr_p_value: float
    ctr_beat: float
    cart_diff: float
    cart_p_value: float
    cart_beat: float
    conversion_diff: float
    conversion_p_value: float
    conversion_beat: float
    revenue_diff: float
    revenue_p_value: float
    revenue_beat: float


@dataclass(frozen=True)
class DailyPoint:
    day: date
    impressions: int
    ctr: st.Interval
    cumulative_impressions: int
    cumulative_ctr: st.Interval
    cumulative_conversion: st.Interval


@dataclass
class VariantReport:
    variant: Variant
    impressions: int
    shoppers: int
    clicks: int
    carts: int
    purchases: int
    revenue: float
    ctr: st.Interval
    cart_rate: st.Interval
    conversion: st.Interval
    revenue_per_impression: st.Interval
    vs_control: Comparison | None = None
    daily: list[DailyPoint] = field(default_factory=list)


@dataclass
class ExperimentReport:
    experiment: Experiment
    variants: list[VariantReport]
    srm_p_value: float

    @property
    def srm_warning(self) -> bool:
        """A/B tests only: bandits move their shares on purpose."""
        return self.experiment.mode == Experiment.Mode.AB and self.srm_p_value < SRM_ALPHA

    @property
    def control(self) -> VariantReport | None:
        return next((v for v in self.variants if v.variant.is_control), self.variants[0] if self.variants else None)


def experiment_report(experiment: Experiment) -> ExperimentReport:
    """Everything the results page shows, from one attribution query."""
    variants = list(experiment.variants.order_by("-is_control", "pk"))
    rows: dict[int, list[Outcome]] = defaultdict(list)
    for row in outcomes(experiment.pk):
        rows[row.variant_id].append(row)
    reports = [_variant_report(v, rows[v.pk]) for v in variants]
    control = next((r for r in reports if r.variant.is_control), reports[0] if reports else None)
    for report in reports:
        if control is not None and report is not control:
            report.vs_control = _compare(control, report, rows[control.variant.pk], rows[report.variant.pk])
    shoppers = [r.shoppers for r in reports]
    srm = st.sample_ratio_mismatch(shoppers, [v.weight for v in variants]) if len(reports) > 1 else 1.0
    return ExperimentReport(experiment, reports, srm)


def _variant_report(variant: Variant, rows: list[Outcome]) -> VariantReport:
    n = len(rows)
    clicks = sum(r.clicked for r in rows)
    carts = sum(r.carted for r in rows)
    purchases = sum(r.purchased for r in rows)
    revenue = [r.revenue for r in rows]
    return VariantReport(
        variant=variant,
        impressions=n,
        shoppers=len({r.unit for r in rows}),
        clicks=clicks,
        carts=carts,
        purchases=purchases,
        revenue=float(sum(revenue)),
        ctr=st.wilson(clicks, n),
        cart_rate=st.wilson(carts, n),
        conversion=st.wilson(purchases, n),
        revenue_per_impression=st.bootstrap_mean_interval(revenue),
        daily=_daily(rows),
    )


def _compare(control: VariantReport, variant: VariantReport, a: list[Outcome], b: list[Outcome]) -> Comparison:
    n1, n2 = control.impressions, variant.impressions
    revenue_p, revenue_beat = st.bootstrap_difference([r.revenue for r in a], [r.revenue for r in b])
    return Comparison(
        ctr_diff=variant.ctr.value - control.ctr.value,
        ctr_p_value=st.two_proportion_test(control.clicks, n1, variant.clicks, n2),
        ctr_beat=st.probability_to_beat(control.clicks, n1, variant.clicks, n2),
        cart_diff=variant.cart_rate.value - control.cart_rate.value,
        cart_p_value=st.two_proportion_test(control.carts, n1, variant.carts, n2),
        cart_beat=st.probability_to_beat(control.carts, n1, variant.carts, n2),
        conversion_diff=variant.conversion.value - control.conversion.value,
        conversion_p_value=st.two_proportion_test(control.purchases, n1, variant.purchases, n2),
        conversion_beat=st.probability_to_beat(control.purchases, n1, variant.purchases, n2),
        revenue_diff=variant.revenue_per_impression.value - control.revenue_per_impression.value,
        revenue_p_value=revenue_p,
        revenue_beat=revenue_beat,
    )


def _daily(rows: list[Outcome]) -> list[DailyPoint]:
    by_day: dict[date, list[Outcome]] = defaultdict(list)
    for row in rows:
        by_day[row.day].append(row)
    points, total, clicks_total, bought_total = [], 0, 0, 0
    for day in sorted(by_day):
        today = by_day[day]
        clicks = sum(r.clicked for r in today)
        total += len(today)
        clicks_total += clicks
        bought_total += sum(r.purchased for r in today)
        points.append(
            DailyPoint(
                day=day,
                impressions=len(today),
                ctr=st.wilson(clicks, len(today)),
                cumulative_impressions=total,
                cumulative_ctr=st.wilson(clicks_total, total),
                cumulative_conversion=st.wilson(bought_total, total),
            )
        )
    return points
