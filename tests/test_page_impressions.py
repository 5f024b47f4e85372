"""A page's slot impressions in one write (``PageImpressionsMiddleware``, issue 18).

The counts must equal what the slots showed, with or without the middleware; a failed page
counts nothing; a click on the delivered page is accepted; the analytics never break the page.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import HttpResponse
from django.template import RequestContext, Template
from django.test.utils import CaptureQueriesContext

from recommender.events import record_event
from recommender.middleware import PageImpressionsMiddleware
from recommender.models import SlotStat
from recommender.slots import is_known_slot
from tests.test_template_tags import _request

pytestmark = pytest.mark.django_db

PAGE = (
    "{% load recommender_tags %}"
    '{% similar_products product limit=3 slot="page-similar" %}'
    '{% similar_products product limit=2 slot="page-similar" %}'  # the same row, twice on one page
    '{% trending_products limit=2 slot="page-trending" %}'
)


def _counts() -> dict[tuple[str, str], int]:
    """This file's rows only: tests that commit (live servers, workers) may leave others behind."""
    rows = SlotStat.objects.filter(slot__in=["page-similar", "page-trending", "late"])
    return {(r.slot, r.strategy): r.impressions for r in rows}


def _serve(key: str, *, middleware: bool, status: int = 200) -> tuple[str, list[str]]:
    request = _request()

    def view(req):
        return HttpResponse(Template(PAGE).render(RequestContext(req, {"product": key})), status=status)

    handler = PageImpressionsMiddleware(view) if middleware else view
    with CaptureQueriesContext(connection) as queries:
        html = handler(request).content.decode()
    return html, [q["sql"] for q in queries.captured_queries if "recommender_slotstat" in q["sql"]]


def _shown(html: str) -> int:
    return html.count("data-rec-product=")


def test_the_middleware_writes_what_each_slot_showed_in_one_statement(vector_shop):
    record_event("purchase", session_key="someone", product_key=vector_shop["bag-a"])  # something trends
    html, writes = _serve(vector_shop["dress-a"], middleware=True)
    assert len(writes) == 1, writes
    counts = _counts()
    assert counts[("page-similar", "similar")] == 5
    assert counts[("page-trending", "trending")] == _shown(html) - 5 > 0


def test_without_the_middleware_each_slot_writes_and_the_counts_are_the_same(vector_shop):
    record_event("purchase", session_key="someone", product_key=vector_shop["bag-a"])
    _, writes = _serve(vector_shop["dress-a"], middleware=True)
    with_middleware = _counts()
    SlotStat.objects.filter(slot__startswith="page-").delete()
    html, writes = _serve(vector_shop["dress-a"], middleware=False)
    assert len(writes) == 3
    assert _counts() == with_middleware
    assert sum(with_middleware.values()) == _shown(html)


def test_a_failed_page_counts_nothing(vector_shop):
    _serve(vector_shop["dress-a"], middleware=True, status=500)
    assert _counts() == {}


def test_a_click_on_the_delivered_page_counts(vector_shop):
    html, _ = _serve(vector_shop["dress-a"], middleware=True)
    assert is_known_slot("page-similar")
    clicked = html.split('data-rec-product="')[1].split('"')[0]
    record_event("click", session_key="clicker", product_key=clicked, slot="page-similar", strategy="similar")
    assert SlotStat.objects.get(slot="page-similar", strategy="similar").clicks == 1


def test_the_page_is_served_when_its_impressions_cannot_be_written(vector_shop, monkeypatch, caplog):
    def broken(counts, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(SlotStat, "bump_impressions", broken)
    html, _ = _serve(vector_shop["dress-a"], middleware=True)
    assert _shown(html) >= 5
    assert "Could not write the page's slot impressions" in caplog.text


def test_a_slot_rendered_after_the_write_still_counts(vector_shop):
    """A streamed response renders after the middleware wrote the batch: those slots write at once."""
    from recommender.impressions import collect_impressions, count_impressions, write_impressions

    request = _request()
    collect_impressions(request)
    count_impressions(request, "late", "similar", 2)
    assert _counts() == {}
    assert write_impressions(request) == 2
    count_impressions(request, "late", "similar", 3)
    assert _counts() == {("late", "similar"): 5}


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_counts_commit_without_waiting_for_the_flush_and_leave_the_session_as_it_was():
    assert not connection.in_atomic_block
    with CaptureQueriesContext(connection) as queries:
        SlotStat.bump_impressions({("late", "similar"): 3})
    assert "set_config('synchronous_commit', 'off', true)" in queries.captured_queries[-1]["sql"]
    SlotStat.bump_impressions({("late", "similar"): 2})
    assert _counts() == {("late", "similar"): 5}
    assert _synchronous_commit() == "on"  # the setting lasted for the upsert's own transaction only


def test_inside_the_hosts_transaction_its_writes_keep_synchronous_commit():
    assert connection.in_atomic_block  # the test's transaction, as with ATOMIC_REQUESTS
    with CaptureQueriesContext(connection) as queries:
        SlotStat.bump_impressions({("late", "similar"): 1})
    assert _counts() == {("late", "similar"): 1}
    assert "synchronous_commit" not in queries.captured_queries[-1]["sql"]
    assert _synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_with_server_side_binding_the_upsert_goes_alone_and_still_counts(monkeypatch):
    # One statement per message there: the setting would need its own round trip, so it is left out.
    monkeypatch.setitem(
        connection.settings_dict, "OPTIONS", {**connection.settings_dict["OPTIONS"], "server_side_binding": True}
    )
    with CaptureQueriesContext(connection) as queries:
        SlotStat.bump_impressions({("late", "similar"): 4})
    assert queries.captured_queries[-1]["sql"].startswith("INSERT INTO")
    assert _counts() == {("late", "similar"): 4}
