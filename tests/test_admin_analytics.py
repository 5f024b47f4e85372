"""Analytics: the query functions against hand-computed numbers, the page, and the PNG charts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from recommender.admin import reports
from recommender.models import SearchQuery, SlotStat
from tests.test_admin import fast_passwords, fresh_cache, login, make_staff  # noqa: F401 - autouse fixtures

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 20)
PAGE = "/admin/recommender/slotstat/analytics/"


def _stat(days_ago: int, slot: str, strategy: str, impressions: int, clicks: int, conversions: int = 0) -> None:
    SlotStat.objects.create(
        day=TODAY - timedelta(days=days_ago),
        slot=slot,
        strategy=strategy,
        impressions=impressions,
        clicks=clicks,
        conversions=conversions,
    )


def _search(
    days_ago: int, normalized: str, session: str, results: int, clicked: bool = False, purchased: bool = False
) -> None:
    at = datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    SearchQuery.objects.create(
        query=normalized.title(),
        normalized=normalized,
        session_hash=session,
        result_count=results,
        clicked=clicked,
        purchased=purchased,
        created_at=at,
    )


@pytest.fixture
def frozen_today(monkeypatch) -> None:
    """The views' periods end on TODAY (the data's reference day), whatever the clock says."""
    real = reports.last_days
    monkeypatch.setattr(reports, "last_days", lambda days, today=None: real(days, TODAY))


@pytest.fixture
def traffic() -> None:
    _stat(0, "home", "for_you", 200, 10, 2)
    _stat(1, "home", "for_you", 100, 5, 1)
    _stat(1, "product", "similar", 400, 40, 4)
    _stat(6, "cart", "bought_together", 50, 0)
    _stat(7, "home", "for_you", 1000, 1000, 1000)  # one day outside "last 7 days"
    _stat(40, "product", "similar", 999, 999)  # outside "last 30 days"
    _search(0, "black dress", "s1", 12, clicked=True)
    _search(1, "black dress", "s2", 8, clicked=True, purchased=True)
    _search(2, "black dress", "s2", 10)
    _search(3, "wellies", "s3", 0)
    _search(3, "wellies", "s4", 0)
    _search(5, "linen shirt", "", 4, clicked=True)
    _search(10, "wellies", "s5", 0)  # outside "last 7 days"


def test_last_days_is_inclusive():
    period = reports.last_days(7, TODAY)
    assert (period.start, period.end, len(period.days)) == (date(2026, 3, 14), TODAY, 7)


def test_slot_performance_per_slot_and_strategy(traffic):
    rows = reports.slot_performance(reports.last_days(7, TODAY))
    by_key = {(r.slot, r.strategy): r for r in rows}
    assert [(r.slot, r.strategy) for r in rows] == [
        ("product", "similar"),
        ("home", "for_you"),
        ("cart", "bought_together"),
    ]
    home = by_key["home", "for_you"]
    assert (home.impressions, home.clicks, home.conversions) == (300, 15, 3)
    assert home.ctr == pytest.approx(15 / 300) and home.conversion_rate == pytest.approx(3 / 15)
    cart = by_key["cart", "bought_together"]
    assert cart.ctr == 0.0 and cart.conversion_rate == 0.0
    totals = reports.slot_totals(reports.last_days(7, TODAY))
    assert (totals.impressions, totals.clicks, totals.conversions) == (750, 55, 7)
    wide = reports.slot_totals(reports.last_days(30, TODAY))
    assert (wide.impressions, wide.clicks) == (1750, 1055)


def test_daily_series_are_zero_filled_and_aligned(traffic):
    period = reports.last_days(7, TODAY)
    days = reports.daily_traffic(period)
    assert [d.day for d in days] == period.days
    assert [(d.impressions, d.clicks) for d in days] == [(50, 0), (0, 0), (0, 0), (0, 0), (0, 0), (500, 45), (200, 10)]
    assert days[-2].ctr == pytest.approx(45 / 500)
    ctr = reports.daily_ctr(period)
    assert set(ctr) == {"home / for_you", "product / similar", "cart / bought_together"}
    assert ctr["home / for_you"] == [None, None, None, None, None, pytest.approx(0.05), pytest.approx(0.05)]
    assert ctr["cart / bought_together"][0] == 0.0 and ctr["product / similar"][-1] is None


def test_top_and_zero_result_queries(traffic):
    period = reports.last_days(7, TODAY)
    top = reports.top_queries(period)
    assert [(q.query, q.searches, q.sessions) for q in top] == [
        ("black dress", 3, 2),
        ("wellies", 2, 2),
        ("linen shirt", 1, 0),
    ]
    assert top[0].avg_results == pytest.approx(10.0) and top[0].click_rate == pytest.approx(2 / 3)
    zero = reports.zero_result_queries(period)
    assert [(q.query, q.searches) for q in zero] == [("wellies", 2)]
    assert [(q.query, q.searches) for q in reports.zero_result_queries(reports.last_days(30, TODAY))] == [
        ("wellies", 3)
    ]
    assert len(reports.top_queries(period, limit=1)) == 1
    totals = reports.search_totals(period)
    assert (totals.searches, totals.zero_results, totals.clicked, totals.purchased) == (6, 2, 3, 1)
    assert totals.zero_result_rate == pytest.approx(2 / 6)


def test_the_page_shows_the_selected_period(admin_client, traffic, frozen_today):
    page = admin_client.get(PAGE + "?days=7")
    assert page.context["days"] == 7 and page.context["totals"].impressions == 750
    html = page.content.decode()
    assert (
        '<td>home</td><td class="text">for_you</td><td>300</td><td>15</td><td>5.0%</td><td>3</td><td>20.0%</td>' in html
    )
    assert "<td>wellies</td><td>2</td><td>2</td><td>0.0</td><td>0.0%</td>" in html
    assert 'href="?days=7" class="selected"' in html
    assert f'src="{reverse("admin:recommender_analytics_chart", args=["ctr"])}?days=7"' in html
    assert admin_client.get(PAGE + "?days=30").context["totals"].impressions == 1750
    assert admin_client.get(PAGE + "?days=13").context["days"] == 30  # not offered: the default


@pytest.mark.parametrize("chart", ["traffic", "ctr"])
def test_charts_are_pngs_with_and_without_data(admin_client, traffic, frozen_today, chart):
    url = reverse("admin:recommender_analytics_chart", args=[chart])
    for query in ("?days=7", "?days=90"):
        response = admin_client.get(url + query)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    SlotStat.objects.all().delete()
    empty = admin_client.get(url)
    assert empty.status_code == 200 and empty.content.startswith(b"\x89PNG")


def test_unknown_charts_are_404(admin_client):
    assert admin_client.get(reverse("admin:recommender_analytics_chart", args=["pie"])).status_code == 404


def test_analytics_needs_the_slotstat_view_permission(django_user_model, client):
    chart = reverse("admin:recommender_analytics_chart", args=["ctr"])
    assert client.get(PAGE).status_code == 302
    other = login(make_staff(django_user_model, "recommender.view_productvector"))
    assert other.get(PAGE).status_code == 403 and other.get(chart).status_code == 403
    assert "Analytics" not in other.get(reverse("admin:app_list", args=["recommender"])).content.decode()
    viewer = login(make_staff(django_user_model, "recommender.view_slotstat", username="analyst"))
    assert viewer.get(PAGE).status_code == 200 and viewer.get(chart).status_code == 200
    assert f'href="{PAGE}"' in viewer.get(reverse("admin:app_list", args=["recommender"])).content.decode()
