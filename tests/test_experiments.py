"""Experiments through the real stack: assignment, variants in recommend(), exposures, attribution,
previews, fallbacks and the staff-only REST endpoint (Postgres, the vector shop's products)."""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bench.experiment_simulator import make_experiment
from recommender.events import record_event
from recommender.experiments import lifecycle
from recommender.experiments.assignment import UnknownVariant, bucket, choose_variant
from recommender.experiments.report import experiment_report
from recommender.models import Experiment, Exposure, ModelVersion, RecommenderSettings, UserAssignment
from recommender.privacy import set_personalisation
from recommender.recommend import recommend

pytestmark = pytest.mark.django_db

SLOT = "home"


@pytest.fixture(autouse=True)
def _no_event_throttle(settings):
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-events": None}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _ab(**fields) -> Experiment:
    return make_experiment(
        "coats or not",
        SLOT,
        {"control": {"strategy": "trending"}, "coats": {"strategy": "trending", "categories": ["coat"], "limit": 2}},
        **fields,
    )


def test_assignment_is_sticky_balanced_and_follows_the_weights(db):
    experiment = _ab()
    # Fixed ids: random ones made the +-3 sigma bounds fail about once in 200 runs.
    rng = random.Random(17)
    units = [f"{rng.getrandbits(128):032x}" for _ in range(4000)]
    first = [choose_variant(SLOT, session_key=u).variant_name for u in units]
    assert first == [choose_variant(SLOT, session_key=u).variant_name for u in units]  # sticky
    share = Counter(first)["coats"] / len(units)
    assert 0.47 < share < 0.53  # 4000 fair coin flips: +-3 sigma is +-0.024
    experiment.variants.filter(name="coats").update(weight=3.0)
    experiment.save()  # clears the serving snapshot
    share = Counter(choose_variant(SLOT, session_key=u).variant_name for u in units)["coats"] / len(units)
    assert 0.72 < share < 0.78
    # Independent of other experiments: the hash is per experiment.
    assert sum(bucket(1, u) < 0.5 for u in units) != sum(bucket(2, u) < 0.5 for u in units)


def test_a_shopper_keeps_the_anonymous_variant_after_login_and_on_another_device(user):
    experiment = _ab()
    sessions = [uuid.uuid4().hex for _ in range(40)]
    anonymous = {s: choose_variant(SLOT, session_key=s).variant_name for s in sessions}
    by_user_id = "control" if bucket(experiment.pk, f"u:{user.pk}") < 0.5 else "coats"  # equal weights
    session = next(s for s in sessions if anonymous[s] != by_user_id)  # so the test can fail
    logged_in = choose_variant(SLOT, user_id=user.pk, session_key=session)
    assert logged_in.variant_name == anonymous[session]
    assert UserAssignment.objects.get(user=user).variant.name == anonymous[session]
    # Another device: no anonymous id there, the stored assignment decides.
    assert choose_variant(SLOT, user_id=user.pk).variant_name == anonymous[session]


def test_opted_out_shoppers_see_the_control_uncounted(user, vector_shop):
    _ab()
    set_personalisation(user, False)
    for _ in range(10):
        recs = recommend("trending", user=user, session_key=uuid.uuid4().hex, slot=SLOT, record_impression=True)
        assert recs.variant == "control"
    assert Exposure.objects.count() == 0


def test_variants_shape_the_slot_and_cached_slots_never_mix(vector_shop):
    assert RecommenderSettings.get().cache_seconds > 0  # the cache is on
    _ab()
    by_variant: dict[str, list[list[str]]] = {"control": [], "coats": []}
    for _ in range(40):
        session = uuid.uuid4().hex
        recs = recommend("trending", session_key=session, slot=SLOT, limit=6, record_impression=True)
        by_variant[recs.variant].append(recs.keys)
    coats = {vector_shop[n] for n in ("coat-a", "coat-b", "coat-c")}
    assert by_variant["control"] and by_variant["coats"]
    assert all(len(keys) == 2 and set(keys) <= coats for keys in by_variant["coats"])
    assert all(len(keys) == 6 for keys in by_variant["control"])
    assert Exposure.objects.count() == 40
    assert Counter(Exposure.objects.values_list("variant__name", flat=True)) == {
        k: len(v) for k, v in by_variant.items()
    }


def test_clicks_carts_and_purchases_are_attributed_through_the_api(vector_shop):
    experiment = _ab()
    client = Client()
    product = vector_shop["coat-a"]  # price 14.00
    post = lambda **body: client.post("/api/recommender/events/", json.dumps(body), content_type="application/json")
    assert post(type="view", product_id=product).status_code == 201  # the session
    body = client.get("/api/recommender/trending/", {"slot": SLOT}).json()
    variant = body["variant"]
    shown = body["results"][0]["product_id"]
    assert post(type="click", product_id=shown, slot=SLOT, strategy="trending").status_code == 201
    assert post(type="add_to_cart", product_id=product).status_code == 201
    assert post(type="purchase", product_id=product, quantity=2).status_code == 201
    # A purchase after the attribution window counts for nobody.
    session = Exposure.objects.get().session_key
    record_event("purchase", session_key=session, product_key=product, created_at=timezone.now() + timedelta(hours=25))
    report = experiment_report(experiment)
    row = next(v for v in report.variants if v.variant.name == variant)
    other = next(v for v in report.variants if v.variant.name != variant)
    assert (row.impressions, row.clicks, row.carts, row.purchases) == (1, 1, 1, 1)
    assert row.revenue == pytest.approx(28.0)
    assert (other.impressions, other.clicks, other.purchases) == (0, 0, 0)
    assert row.ctr.value == 1.0 and 0 < row.ctr.low < 1


def test_a_click_on_another_slot_is_not_the_experiments(vector_shop, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SLOTS": ["footer"]}
    experiment = _ab()
    session = uuid.uuid4().hex
    recs = recommend("trending", session_key=session, slot=SLOT, record_impression=True)
    recommend("trending", session_key=session, slot="footer", record_impression=True)
    record_event("click", session_key=session, product_key=recs.keys[0], slot="footer", strategy="trending")
    (row,) = [v for v in experiment_report(experiment).variants if v.impressions]
    assert row.clicks == 0


def test_staff_preview_forces_a_variant_and_others_may_not(vector_shop, django_user_model):
    _ab()
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    shopper = django_user_model.objects.create_user("shopper2")
    client = Client()
    client.force_login(staff)
    body = client.get("/api/recommender/trending/", {"slot": SLOT, "rec_variant": "coats"}).json()
    assert body["variant"] == "coats" and len(body["results"]) == 2
    bad = client.get("/api/recommender/trending/", {"slot": SLOT, "rec_variant": "nope"})
    assert bad.status_code == 400 and "rec_variant" in bad.json()
    assert Exposure.objects.count() == 0  # previews are not counted
    client.force_login(shopper)
    assert client.get("/api/recommender/trending/", {"slot": SLOT, "rec_variant": "coats"}).status_code == 403
    assert Client().get("/api/recommender/trending/", {"slot": SLOT, "rec_variant": "coats"}).status_code == 403
    with pytest.raises(UnknownVariant):
        recommend("trending", slot=SLOT, preview_variant="nope")


def test_paused_and_stopped_experiments_serve_the_slot_default(vector_shop):
    experiment = _ab()
    sessions = [uuid.uuid4().hex for _ in range(20)]
    lifecycle.pause(experiment)
    assert all(recommend("trending", session_key=s, slot=SLOT).variant == "" for s in sessions)
    lifecycle.start(experiment)
    assert {recommend("trending", session_key=s, slot=SLOT).variant for s in sessions} == {"control", "coats"}
    lifecycle.stop(experiment)
    for s in sessions:
        recs = recommend("trending", session_key=s, slot=SLOT, limit=5, record_impression=True)
        assert recs.variant == "" and len(recs) == 5
    assert Exposure.objects.filter(created_at__gt=experiment.updated_at).count() == 0
    with pytest.raises(lifecycle.ExperimentStateError):
        lifecycle.start(experiment)


def test_an_experiment_outside_its_dates_serves_the_default(vector_shop):
    _ab(starts_at=timezone.now() + timedelta(days=1))
    assert recommend("trending", session_key="x" * 32, slot=SLOT).variant == ""


def test_promoting_the_winner_makes_it_the_slot_default_and_stops(vector_shop):
    experiment = make_experiment(
        "home strategy", SLOT, {"control": {"strategy": "for_you"}, "trend": {"strategy": "trending", "limit": 3}}
    )
    winner = experiment.variants.get(name="trend")
    lifecycle.promote(experiment, winner)
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.STOPPED and experiment.winner == winner
    assert RecommenderSettings.get().slot_strategies[SLOT] == "trending"
    recs = recommend("for_you", session_key=uuid.uuid4().hex, slot=SLOT, record_impression=True)
    assert (recs.strategy, len(recs), recs.variant) == ("trending", 3, "trend")
    assert Exposure.objects.count() == 0


def test_a_deleted_strategy_or_model_version_falls_back_to_the_control(vector_shop, caplog):
    behaviour = ModelVersion.objects.create(kind=ModelVersion.Kind.BEHAVIOUR, name="b", dimensions=4)
    experiment = make_experiment(
        "fallbacks",
        SLOT,
        {
            "control": {"strategy": "trending", "limit": 5},
            "gone": {"strategy": "trending", "weight": 100.0},
            "pinned": {"strategy": "for_you", "behaviour": "pinned", "model_version": behaviour, "weight": 100.0},
        },
    )
    experiment.variants.filter(name="gone").update(strategy="removed_in_v2")  # as after a code change
    behaviour.delete()
    experiment.save()
    caplog.set_level(logging.WARNING, logger="recommender.experiments.assignment")
    seen = Counter()
    for _ in range(30):
        recs = recommend("trending", session_key=uuid.uuid4().hex, slot=SLOT, record_impression=True)
        seen[recs.variant] += 1
        assert len(recs) == 5  # the control's limit: never an empty slot
    assert seen == {"control": 30}
    assert "does not exist" in caplog.text and "was deleted" in caplog.text


def test_the_rest_endpoint_is_staff_only_and_follows_model_permissions(vector_shop, django_user_model):
    from django.contrib.auth.models import Permission

    payload = {
        "name": "api made",
        "slots": [SLOT],
        "variants": [
            {"name": "control", "is_control": True, "strategy": "trending"},
            {"name": "b", "strategy": "trending", "diversity_lambda": 0.5},
        ],
    }
    url = "/api/recommender/experiments/"
    anonymous, shopper, viewer, editor = Client(), Client(), Client(), Client()
    shopper.force_login(django_user_model.objects.create_user("plain"))
    viewer_user = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer_user.user_permissions.add(Permission.objects.get(codename="view_experiment"))
    viewer.force_login(viewer_user)
    editor.force_login(django_user_model.objects.create_superuser("boss"))
    for client in (anonymous, shopper):
        assert client.get(url).status_code == 403
        assert client.post(url, payload, content_type="application/json").status_code == 403
    assert viewer.post(url, payload, content_type="application/json").status_code == 403
    created = editor.post(url, payload, content_type="application/json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert viewer.get(url).json()[0]["name"] == "api made"
    assert viewer.post(f"{url}{pk}/start/").status_code == 403
    assert editor.post(f"{url}{pk}/start/").json()["status"] == "running"
    results = viewer.get(f"{url}{pk}/results/").json()
    assert [v["name"] for v in results["variants"]] == ["control", "b"]
    bad = editor.post(
        url, {**payload, "name": "x", "variants": [{"name": "a", "strategy": "nope"}]}, "application/json"
    )
    assert bad.status_code == 400
    assert editor.post(f"{url}{pk}/promote/", {"variant": 999999}, "application/json").status_code == 400


def test_checks_catch_a_bad_window_and_two_experiments_on_one_slot(settings):
    from recommender.checks import check_experiment_settings, check_overlapping_experiments

    settings.RECOMMENDER = {**settings.RECOMMENDER, "EXPERIMENT_ATTRIBUTION_HOURS": 0, "EXPERIMENT_BANDIT_DRAWS": 5}
    assert [e.id for e in check_experiment_settings()] == ["recommender.E035", "recommender.E036"]
    settings.RECOMMENDER = {**settings.RECOMMENDER, "EXPERIMENT_ATTRIBUTION_HOURS": 48, "EXPERIMENT_BANDIT_DRAWS": 1000}
    assert check_experiment_settings() == []
    first = _ab()
    assert check_overlapping_experiments(databases=["default"]) == []
    make_experiment("second", SLOT, {"a": {}, "b": {}})
    (warning,) = check_overlapping_experiments(databases=["default"])
    assert warning.id == "recommender.W035" and first.name in warning.msg
    # The older one is the one served.
    assert choose_variant(SLOT, session_key="abc").experiment_id == first.pk


def test_template_tags_serve_the_variant_and_staff_may_preview_it(vector_shop, django_user_model):
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore
    from django.template import Context, Template
    from django.test import RequestFactory

    make_experiment(
        "tag test",
        SLOT,
        {"control": {"strategy": "trending", "limit": 5}, "lean": {"strategy": "trending", "limit": 2}},
    )
    page = Template('{% load recommender_tags %}{% trending_products slot="home" limit=6 %}')

    def render(user, **params) -> str:
        request = RequestFactory().get("/", params)
        request.session = SessionStore()
        request.session["recommender_sid"] = uuid.uuid4().hex
        request.user = user
        return page.render(Context({"request": request}))

    cards = Counter(render(AnonymousUser()).count('class="recommender-card"') for _ in range(20))
    exposed = Counter(Exposure.objects.values_list("variant__name", flat=True))
    assert cards == {5: exposed["control"], 2: exposed["lean"]} and exposed["lean"] > 0
    staff = django_user_model.objects.create_user("staff-tag", is_staff=True)
    for variant, expected in (("control", 5), ("lean", 2)):
        assert render(staff, rec_variant=variant).count('class="recommender-card"') == expected
    # A preview naming no variant shows the slot as shoppers get it (never an empty slot), uncounted.
    assert render(staff, rec_variant="nope").count('class="recommender-card"') in (5, 2)
    assert Exposure.objects.count() == 20  # previews are not counted
