"""PNG charts of an experiment's results: per-day CTR with 95 % bands, cumulative CTR and conversion.

Drawn with matplotlib's Agg canvas (no pyplot state), like ``charts.py``; one line per variant,
its Wilson interval as a shaded band, so a shop owner sees when the lines stop crossing.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from recommender.admin.charts import _empty, _figure, _png
from recommender.experiments.report import ExperimentReport

CHARTS = ("daily", "cumulative")


def daily_png(report: ExperimentReport) -> bytes:
    """Click-through rate per day and variant, with the day's 95 % interval as a band."""
    # xgettext:no-python-format ("95 % i…" is no format directive; the title is never %-formatted)
    return _lines(report, "daily", _("Click-through rate per day (95 % interval)"))


def cumulative_png(report: ExperimentReport) -> bytes:
    """Cumulative click-through rate (solid) and conversion (dashed) per variant, with bands."""
    # xgettext:no-python-format ("95 % i…" is no format directive; the title is never %-formatted)
    return _lines(report, "cumulative", _("Cumulative CTR (solid) and conversion (dashed), 95 % intervals"))


def _lines(report: ExperimentReport, kind: str, title: str) -> bytes:
    figure = _figure()
    ax = figure.add_subplot()
    if not any(row.daily for row in report.variants):
        _empty(ax)
        return _png(figure)
    for i, row in enumerate(report.variants):
        colour = f"C{i}"
        days = [p.day for p in row.daily]
        series = [p.ctr for p in row.daily] if kind == "daily" else [p.cumulative_ctr for p in row.daily]
        ax.plot(days, [s.value * 100 for s in series], marker="o", markersize=3, color=colour, label=row.variant.name)
        ax.fill_between(days, [s.low * 100 for s in series], [s.high * 100 for s in series], color=colour, alpha=0.15)
        if kind == "cumulative":
            conv = [p.cumulative_conversion for p in row.daily]
            ax.plot(days, [c.value * 100 for c in conv], linestyle="--", color=colour)
            ax.fill_between(days, [c.low * 100 for c in conv], [c.high * 100 for c in conv], color=colour, alpha=0.08)
    ax.set_ylabel(_("%"))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    ax.set_title(title)
    figure.autofmt_xdate()
    return _png(figure)


RENDERERS = {"daily": daily_png, "cumulative": cumulative_png}
