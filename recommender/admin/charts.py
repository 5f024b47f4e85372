"""Server-side PNG charts for the analytics page (matplotlib's Agg canvas, no pyplot state).

matplotlib comes with the ``clip`` extra; without it :func:`available` is False and the page
shows its tables only.
"""

from __future__ import annotations

import io
from importlib.util import find_spec

from django.utils.translation import gettext as _

from recommender.admin.reports import Period, daily_ctr, daily_traffic

# Wide and short: a trend line beside tables, readable at the admin's content width.
SIZE_INCHES = (9.0, 3.2)
DPI = 100


def available() -> bool:
    return find_spec("matplotlib") is not None


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _empty(ax) -> None:
    ax.text(0.5, 0.5, _("No data in this period"), ha="center", va="center", transform=ax.transAxes, color="#777")
    ax.set_xticks([])
    ax.set_yticks([])


def _date_axis(ax, period: Period) -> None:
    """The whole period on the x axis, even where only a few days have data."""
    from datetime import timedelta

    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    ax.set_xlim(period.start - timedelta(hours=12), period.end + timedelta(hours=12))
    locator = AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.grid(True, alpha=0.3)


def traffic_png(period: Period) -> bytes:
    """Impressions (bars) and clicks (line, right axis) per day, all slots together."""
    figure = _figure()
    ax = figure.add_subplot()
    days = daily_traffic(period)
    if not any(d.impressions or d.clicks for d in days):
        _empty(ax)
        return _png(figure)
    x = [d.day for d in days]
    ax.bar(x, [d.impressions for d in days], color="#9ab8d8", label=_("impressions"))
    ax.set_ylabel(_("impressions"))
    clicks = ax.twinx()
    clicks.plot(x, [d.clicks for d in days], color="#c0392b", marker="o", markersize=3, label=_("clicks"))
    clicks.set_ylabel(_("clicks"))
    clicks.set_ylim(bottom=0)
    _date_axis(ax, period)
    ax.set_title(_("Impressions and clicks per day"))
    return _png(figure)


def ctr_png(period: Period) -> bytes:
    """Click-through rate per day for each slot / strategy (gaps where it was not shown)."""
    figure = _figure()
    ax = figure.add_subplot()
    series = daily_ctr(period)
    if not series:
        _empty(ax)
        return _png(figure)
    x = period.days
    for label, values in sorted(series.items()):
        ax.plot(x, [v * 100 if v is not None else float("nan") for v in values], marker="o", markersize=3, label=label)
    ax.set_ylabel(_("CTR (%)"))
    ax.set_ylim(bottom=0)
    _date_axis(ax, period)
    ax.legend(fontsize="small", loc="upper left", ncols=min(len(series), 3))
    ax.set_title(_("Click-through rate per slot / strategy"))
    return _png(figure)


CHARTS = {"traffic": traffic_png, "ctr": ctr_png}
