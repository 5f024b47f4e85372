"""System checks report misconfiguration with ids and hints."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from recommender import checks
from recommender.storage import VectorRow, store_vectors
from tests.factories import encoder_version


def _ids(messages) -> set[str]:
    return {m.id for m in messages}


def test_configuration_is_clean_in_the_test_project():
    assert not [m for m in run_checks(tags=["recommender"]) if m.level >= 30]


@pytest.mark.parametrize(
    "recommender",
    [{}, {"PRODUCT_MODEL": "shop.Nothing"}, {"PRODUCT_MODEL": "testapp.Product", "FIELDS": {"price": "cost"}}],
)
def test_product_model_problems_are_e003(recommender):
    with override_settings(RECOMMENDER=recommender):
        messages = checks.check_product_model()
    assert _ids(messages) == {"recommender.E003"}
    assert messages[0].hint


def test_non_postgres_database_is_e001():
    dbs = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    with override_settings(DATABASES=dbs):
        messages = checks.check_database_engine()
    assert _ids(messages) == {"recommender.E001"}
    assert "sqlite3" in messages[0].msg


def test_missing_broker_without_eager_mode_is_w001():
    with override_settings(CELERY_BROKER_URL="", CELERY_TASK_ALWAYS_EAGER=False):
        assert _ids(checks.check_broker()) == {"recommender.W001"}
    with override_settings(CELERY_BROKER_URL="", CELERY_TASK_ALWAYS_EAGER=True):
        assert checks.check_broker() == []


@pytest.mark.django_db
def test_vector_extension_present():
    assert checks.check_vector_extension(databases=["default"]) == []


@pytest.mark.django_db
def test_missing_vector_extension_is_e002(monkeypatch):
    # The real catalog query, for an extension name this server does not have.
    monkeypatch.setattr(checks, "VECTOR_EXTENSION", "vector_not_installed")
    messages = checks.check_vector_extension(databases=["default"])
    assert _ids(messages) == {"recommender.E002"}
    assert "not available" in messages[0].msg


@pytest.mark.django_db
def test_stored_vectors_with_wrong_dimension_are_e005():
    version = encoder_version(3)
    store_vectors(version, [VectorRow(key="a", embedding=[1, 0, 0])])
    assert checks.check_vector_dimensions(databases=["default"]) == []
    version.dimensions = 4
    version.save()
    messages = checks.check_vector_dimensions(databases=["default"])
    assert _ids(messages) == {"recommender.E005"}
    assert "[3]" in messages[0].msg
