"""``manage.py shopdemo_setup`` end to end on a small generated catalog: every step runs, the
behaviour model serves "for you", and a second run reuses what is there."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from recommender.behaviour.serving import behaviour_user_vector
from recommender.models import ModelVersion, ProductVector, Profile, SuggestionPhrase
from recommender.recommend import recommend
from recommender.versions import activate, register_encoder_version
from tests.test_browser import SHOP_RECOMMENDER

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _setup() -> str:
    out = StringIO()
    call_command("shopdemo_setup", "--limit", "40", "--behaviour-epochs", "2", stdout=out)
    return out.getvalue()


def test_setup_builds_the_demo_and_serves_the_behaviour_model(settings, tiny_encoder, tmp_path):
    settings.RECOMMENDER = {**SHOP_RECOMMENDER, "ENCODER": tiny_encoder, "MODEL_DIR": str(tmp_path / "models")}
    settings.MEDIA_ROOT = str(tmp_path / "media")
    encoder = activate(register_encoder_version(tiny_encoder))  # the catalog CLIP step is tested elsewhere

    first = _setup()
    assert "Demo ready" in first, first
    assert ProductVector.objects.filter(version=encoder, status="ok").count() == 40
    assert Profile.objects.exists() and SuggestionPhrase.objects.exists()
    model = ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR)
    assert model is not None and model.config["encoder_version_id"] == encoder.pk
    demo1 = get_user_model().objects.get(username="demo1")
    assert behaviour_user_vector(demo1.pk) is not None  # "for you" runs on the model
    assert recommend("for_you", user=demo1, limit=4).items

    second = _setup()
    assert f"Behaviour model: {model} serves." in second, second
    assert ModelVersion.objects.filter(kind=ModelVersion.Kind.BEHAVIOUR).count() == 1
    assert "0 embedded" in second  # vectors reused (content hashes unchanged)
