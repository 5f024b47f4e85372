"""Model versions in the admin: activate (switch now or build first), roll back, the training
form and task, the metrics table and the training-curve PNG served only from MODEL_DIR."""

from __future__ import annotations

import os
from unittest import mock

import pytest
from django.urls import reverse

from recommender import tasks
from recommender.admin.versions import ActivationError, plan_activation, plot_path, rollback_target
from recommender.indexing import reindex
from recommender.models import ModelVersion, ProductVector
from recommender.versions import register_encoder_version, serving_version
from tests.factories import encoder_version, product_with_image
from tests.test_admin import (  # noqa: F401 - autouse fixtures
    TRAINING_METRICS,
    catalog,
    fast_passwords,
    fresh_cache,
    login,
    make_staff,
    png_bytes,
    vector_rows,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/recommender/modelversion/"
TRAIN = "/admin/recommender/modelversion/train/"
ROLLBACK = "/admin/recommender/modelversion/rollback/"
State = ModelVersion.State


def _state(*versions: ModelVersion) -> tuple[str, ...]:
    return tuple(ModelVersion.objects.get(pk=v.pk).state for v in versions)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def reindex_delay():
    with mock.patch.object(tasks.reindex, "delay") as delay:
        yield delay


def test_activating_a_complete_version_switches_now_and_catches_up(admin_client, reindex_delay):
    products = catalog(3)
    blue = encoder_version(8, name="blue")
    green = encoder_version(8, state=State.READY, name="green")
    vector_rows(green, products)
    response = admin_client.post(
        CHANGELIST, {"action": "activate_selected", "_selected_action": [green.pk]}, follow=True
    )
    assert _state(blue, green) == (State.RETIRED, State.ACTIVE)
    reindex_delay.assert_called_once_with(green.pk, False)  # products changed meanwhile are re-embedded
    assert any("Activated green" in m for m in _messages(response))


def test_activating_an_incomplete_version_builds_it_first(admin_client, reindex_delay):
    products = catalog(3)
    blue = encoder_version(8, name="blue")
    green = encoder_version(8, state=State.READY, name="green")
    vector_rows(green, products[:2])
    admin_client.post(CHANGELIST, {"action": "activate_selected", "_selected_action": [green.pk]})
    assert _state(blue, green) == (State.ACTIVE, State.BUILDING)
    reindex_delay.assert_called_once_with(green.pk, False)


def test_activating_when_nothing_serves_switches_at_once(reindex_delay):
    catalog(2)
    green = encoder_version(8, state=State.READY, name="green")
    outcome = plan_activation(green)
    assert outcome.active and outcome.reindex and _state(green) == (State.ACTIVE,)


def test_versions_that_cannot_serve_are_refused(admin_client, reindex_delay):
    blue = encoder_version(8, name="blue")
    training = encoder_version(8, state=State.TRAINING, name="training")
    response = admin_client.post(
        CHANGELIST, {"action": "activate_selected", "_selected_action": [training.pk]}, follow=True
    )
    assert _state(blue, training) == (State.ACTIVE, State.TRAINING)
    assert any("cannot be activated" in m for m in _messages(response))
    with pytest.raises(ActivationError):
        plan_activation(encoder_version(8, state=State.FAILED, name="broken"))
    other = encoder_version(8, state=State.READY, name="other")
    response = admin_client.post(
        CHANGELIST, {"action": "activate_selected", "_selected_action": [other.pk, blue.pk]}, follow=True
    )
    assert any("one version per kind" in m for m in _messages(response))
    assert _state(blue, other) == (State.ACTIVE, State.READY)
    reindex_delay.assert_not_called()


def _behaviour_version(name: str, state: str, folder) -> ModelVersion:
    """A behaviour version with a saved (untrained) tiny model over the active encoder's products."""
    import numpy as np

    from recommender.behaviour.config import DEFAULTS
    from recommender.behaviour.model import BehaviourModel, save_artifact

    encoder = serving_version()
    keys = sorted(ProductVector.objects.filter(version=encoder).values_list("product_key", flat=True))
    model = BehaviourModel(
        np.zeros((len(keys), encoder.dimensions)), {**DEFAULTS, "hidden": 8, "layers": 1, "heads": 1}
    )
    save_artifact(model, folder / name, item_keys=keys, extra={})
    return ModelVersion.objects.create(
        kind="behaviour",
        name=name,
        state=state,
        artifact=str(folder / name),
        dimensions=8,
        config={"encoder_version_id": encoder.pk},
    )


def test_behaviour_models_switch_without_reindexing(admin_client, reindex_delay, vector_shop, tmp_path):
    old = _behaviour_version("seq-1", State.ACTIVE, tmp_path)
    new = _behaviour_version("seq-2", State.READY, tmp_path)
    page = admin_client.post(CHANGELIST, {"action": "activate_selected", "_selected_action": [new.pk]}, follow=True)
    # the recommender.activate_behaviour task (eager here; test_celery_worker runs it in a worker)
    assert "its product vectors are being written" in page.content.decode()
    assert _state(old, new) == (State.RETIRED, State.ACTIVE)
    reindex_delay.assert_not_called()
    assert ProductVector.objects.filter(version=new).count() == len(vector_shop)  # its output vectors


def test_a_behaviour_model_whose_files_are_gone_is_not_activated(admin_client, reindex_delay, vector_shop, tmp_path):
    old = _behaviour_version("seq-1", State.ACTIVE, tmp_path)
    new = ModelVersion.objects.create(
        kind="behaviour",
        name="lost",
        state=State.READY,
        artifact=str(tmp_path / "gone"),
        dimensions=8,
        config={"encoder_version_id": serving_version().pk},
    )
    page = admin_client.post(CHANGELIST, {"action": "activate_selected", "_selected_action": [new.pk]}, follow=True)
    assert "Lost cannot be activated: its model could not be used" in page.content.decode()
    assert _state(old, new) == (State.ACTIVE, State.READY)
    assert not ProductVector.objects.filter(version=new).exists()


def test_roll_back_reactivates_the_most_recently_retired_version(admin_client, reindex_delay):
    products = catalog(2)
    first = encoder_version(8, name="first")
    second = encoder_version(8, state=State.READY, name="second")
    third = encoder_version(8, state=State.READY, name="third")
    for version in (first, second, third):
        vector_rows(version, products)
    for version in (second, third):  # first -> second -> third
        plan_activation(version)
    assert rollback_target() == ModelVersion.objects.get(pk=second.pk)
    page = admin_client.get(CHANGELIST).content.decode()
    assert "Previous encoder: <strong>second</strong>" in page
    admin_client.post(ROLLBACK, {"kind": "encoder"})
    assert _state(first, second, third) == (State.RETIRED, State.ACTIVE, State.RETIRED)
    # The action does the same, per kind of the selected rows: back to third (retired last).
    admin_client.post(CHANGELIST, {"action": "roll_back", "_selected_action": [first.pk]})
    assert _state(second, third) == (State.RETIRED, State.ACTIVE)
    assert admin_client.get(ROLLBACK).status_code == 405


def test_roll_back_without_a_previous_version_says_so(admin_client, reindex_delay):
    blue = encoder_version(8, name="blue")
    response = admin_client.post(ROLLBACK, {"kind": "encoder"}, follow=True)
    assert any("no retired encoder version" in m for m in _messages(response))
    assert _state(blue) == (State.ACTIVE,)


def test_activation_builds_the_vectors_for_real_and_switches(admin_client, tiny_encoder, tiny_model_dir):
    """End to end with the tiny model and eager Celery: build beside the active one, then switch."""
    product_with_image("Strappy dress", "Short black summer dress", (15, 15, 15), category="Dress")
    product_with_image("Wool coat", "Warm red winter coat", (200, 20, 30), category="Coat")
    reindex()
    blue = serving_version()
    green = register_encoder_version({"MODEL": f"local-dir:{tiny_model_dir}"}, name="green")
    admin_client.post(CHANGELIST, {"action": "activate_selected", "_selected_action": [green.pk]})
    assert _state(blue, green) == (State.RETIRED, State.ACTIVE)
    assert ProductVector.objects.filter(version=green, status="ok").count() == 2


# --- training ----------------------------------------------------------------------------------
TRAIN_POST = {"epochs": "2", "batch_size": "16", "lr": "0.01", "image_size": "32", "limit": "12"}


def test_train_form_sends_the_task_with_the_options(admin_client):
    assert admin_client.get(TRAIN).status_code == 200
    with mock.patch.object(tasks.train_encoder, "delay") as delay:
        response = admin_client.post(TRAIN, {**TRAIN_POST, "activate": "on"})
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    delay.assert_called_once_with({"epochs": 2, "batch_size": 16, "lr": 0.01, "image_size": 32, "limit": 12}, True)


def test_train_form_rejects_bad_options(admin_client):
    with mock.patch.object(tasks.train_encoder, "delay") as delay:
        response = admin_client.post(TRAIN, {**TRAIN_POST, "epochs": "0", "image_size": "8"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ensure this value is greater than or equal to 1." in html and "greater than or equal to 32" in html
    delay.assert_not_called()


def test_the_training_task_runs_eagerly_and_its_version_shows_in_the_list(admin_client):
    """The task itself runs (eager Celery); only the torch training is replaced by a stand-in."""
    trained = encoder_version(8, state=State.READY, name="catalog-clip-test")
    trained.metrics = TRAINING_METRICS
    trained.save()
    with mock.patch("recommender.training.encoder.train_encoder", return_value=trained) as train:
        admin_client.post(TRAIN, TRAIN_POST)
    train.assert_called_once_with(progress=False, epochs=2, batch_size=16, lr=0.01, image_size=32, limit=12)
    html = admin_client.get(CHANGELIST).content.decode()
    assert "catalog-clip-test" in html and "0.734" in html and "0.660" in html


def test_training_needs_the_add_permission(django_user_model):
    viewer = login(make_staff(django_user_model, "recommender.view_modelversion", "recommender.change_modelversion"))
    assert viewer.get(TRAIN).status_code == 403
    trainer = login(
        make_staff(django_user_model, "recommender.view_modelversion", "recommender.add_modelversion", username="t")
    )
    assert trainer.get(TRAIN).status_code == 200
    assert "Train a new encoder" in trainer.get(CHANGELIST).content.decode()


# --- metrics and the training plot ---------------------------------------------------------------
@pytest.fixture
def model_dir(settings, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    settings.RECOMMENDER = {**settings.RECOMMENDER, "MODEL_DIR": str(folder)}
    return folder


@pytest.fixture
def trained_version(model_dir):
    version = encoder_version(8, name="catalog-clip-1")
    version.metrics = TRAINING_METRICS
    version.save()
    (model_dir / "catalog-clip-1").mkdir()
    (model_dir / "catalog-clip-1" / "training.png").write_bytes(png_bytes())
    return version


def test_detail_page_shows_the_metrics_table_and_the_plot(admin_client, trained_version):
    html = admin_client.get(
        reverse("admin:recommender_modelversion_change", args=[trained_version.pk])
    ).content.decode()
    assert "<th>R@1</th><th>R@5</th><th>R@10</th>" in html
    assert "<th>text → image</th><td>0.250</td><td>0.580</td><td>0.734</td>" in html
    assert "<th>n_train</th><td>270</td>" in html and "<th>train_loss</th>" in html
    plot_url = reverse("admin:recommender_modelversion_plot", args=[trained_version.pk])
    assert f'src="{plot_url}"' in html
    response = admin_client.get(plot_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    "name", ["../outside.png", "/etc/passwd", "catalog-clip-1/notes.txt", "link.png", "missing.png", ""]
)
def test_the_plot_view_serves_only_pngs_inside_model_dir(admin_client, trained_version, model_dir, name):
    outside = model_dir.parent / "outside.png"
    outside.write_bytes(png_bytes())
    (model_dir / "catalog-clip-1" / "notes.txt").write_text("secret")
    os.symlink(outside, model_dir / "link.png")
    trained_version.metrics = {**TRAINING_METRICS, "plot": name}
    trained_version.save()
    assert plot_path(trained_version) is None
    assert (
        admin_client.get(reverse("admin:recommender_modelversion_plot", args=[trained_version.pk])).status_code == 404
    )
    html = admin_client.get(
        reverse("admin:recommender_modelversion_change", args=[trained_version.pk])
    ).content.decode()
    assert "plot.png" not in html


def test_the_plot_needs_the_view_permission(django_user_model, client, trained_version):
    url = reverse("admin:recommender_modelversion_plot", args=[trained_version.pk])
    assert client.get(url).status_code == 302
    assert login(make_staff(django_user_model)).get(url).status_code == 403
    viewer = login(make_staff(django_user_model, "recommender.view_modelversion", username="viewer"))
    assert viewer.get(url).status_code == 200
