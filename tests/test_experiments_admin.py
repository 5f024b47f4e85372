"""The experiments admin: list, edit with inline variants, the results page with its charts and
planner, the start/pause/stop/promote controls, SRM warning, and model permissions."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from bench.experiment_simulator import make_experiment
from recommender.events import record_event
from recommender.experiments.statistics import sample_size
from recommender.models import Experiment, Exposure, RecommenderSettings
from recommender.recommend import recommend
from tests.test_admin import fast_passwords, fresh_cache, login, make_staff  # noqa: F401 - autouse fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment(vector_shop) -> Experiment:
    experiment = make_experiment(
        "home test", "home", {"control": {"strategy": "trending"}, "lean": {"strategy": "trending", "limit": 3}}
    )
    for _ in range(30):
        session = uuid.uuid4().hex
        recs = recommend("trending", session_key=session, slot="home", record_impression=True)
        record_event("click", session_key=session, product_key=recs.keys[0], slot="home", strategy="trending")
    return experiment


def test_results_page_shows_rates_intervals_charts_and_the_planner(admin_client, experiment):
    url = reverse("admin:recommender_experiment_results", args=[experiment.pk])
    page = admin_client.get(url, {"baseline": "0.1", "lift": "0.2"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "variant-results" in html and "lean" in html and "1.0000" in html  # every exposure was clicked
    planned = sample_size(0.1, 0.2)  # the planner's answer is on the page
    assert f"{planned:,}" in html or str(planned) in html
    for chart in ("daily", "cumulative"):
        png = admin_client.get(reverse("admin:recommender_experiment_chart", args=[experiment.pk, chart]))
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert admin_client.get(reverse("admin:recommender_experiment_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:recommender_experiment_change", args=[experiment.pk])).status_code == 200


def test_controls_pause_start_stop_and_promote(admin_client, experiment):
    control = reverse("admin:recommender_experiment_control", args=[experiment.pk])
    admin_client.post(control, {"action": "pause"})
    experiment.refresh_from_db()
    assert experiment.status == "paused"
    admin_client.post(control, {"action": "start"})
    experiment.refresh_from_db()
    assert experiment.status == "running"
    lean = experiment.variants.get(name="lean")
    admin_client.post(control, {"action": "promote", "variant": lean.pk})
    experiment.refresh_from_db()
    assert (experiment.status, experiment.winner_id) == ("stopped", lean.pk)
    assert RecommenderSettings.get().slot_strategies["home"] == "trending"
    assert len(recommend("trending", session_key="s" * 32, slot="home")) == 3
    assert admin_client.get(control).status_code == 405  # POST only


def test_sample_ratio_mismatch_is_a_warning_on_the_page(admin_client, experiment):
    lean = experiment.variants.get(name="lean")
    # 200 extra shoppers all counted for one variant: what a broken assignment or logging looks like.
    Exposure.objects.bulk_create(
        Exposure(experiment=experiment, variant=lean, slot="home", session_key=uuid.uuid4().hex, products=3)
        for _ in range(200)
    )
    page = admin_client.get(reverse("admin:recommender_experiment_results", args=[experiment.pk]))
    assert "Sample ratio mismatch" in page.content.decode()


def test_permissions_follow_the_model_permissions(client, experiment, django_user_model):
    results = reverse("admin:recommender_experiment_results", args=[experiment.pk])
    control = reverse("admin:recommender_experiment_control", args=[experiment.pk])
    nobody = login(make_staff(django_user_model, username="nobody"))
    assert nobody.get(results).status_code == 403
    viewer = login(make_staff(django_user_model, "recommender.view_experiment", username="viewer"))
    page = viewer.get(results)
    assert page.status_code == 200 and "experiment-controls" not in page.content.decode()
    assert viewer.post(control, {"action": "stop"}).status_code == 403
    experiment.refresh_from_db()
    assert experiment.status == "running"
    editor = login(make_staff(django_user_model, "recommender.view_experiment", "recommender.change_experiment"))
    assert editor.post(control, {"action": "stop"}).status_code == 302
    experiment.refresh_from_db()
    assert experiment.status == "stopped"
