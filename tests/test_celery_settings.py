"""`recommender.celery_settings.broker_from_env`: the few lines of Celery setup a host needs."""

from __future__ import annotations

import logging

import pytest
from celery import Celery
from django.core.exceptions import ImproperlyConfigured

from recommender.celery_settings import broker_from_env


def test_a_broker_url_and_json_options_mean_a_real_broker():
    url, options, eager = broker_from_env(
        {"CELERY_BROKER_URL": "filesystem://", "CELERY_BROKER_TRANSPORT_OPTIONS": '{"data_folder_in": "/q"}'}
    )
    assert (url, options, eager) == ("filesystem://", {"data_folder_in": "/q"}, False)


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]"])
def test_bad_transport_options_are_a_clear_error(raw):
    with pytest.raises(ImproperlyConfigured, match="CELERY_BROKER_TRANSPORT_OPTIONS"):
        broker_from_env({"CELERY_BROKER_URL": "redis://x", "CELERY_BROKER_TRANSPORT_OPTIONS": raw})


def _eager_call_logs(broker_url: str, caplog) -> list[str]:
    app = Celery("probe", set_as_current=False)
    app.conf.update(broker_url=broker_url, task_always_eager=True)

    @app.task(name="probe.add")
    def add(a: int, b: int) -> int:
        return a + b

    with caplog.at_level(logging.WARNING):
        assert add.apply_async(args=[1, 2]).result == 3  # EagerResult: no .get() (a task may be on the stack)
    return [r.getMessage() for r in caplog.records]


def test_without_a_broker_tasks_run_eagerly_and_kombu_does_not_warn(caplog):
    url, options, eager = broker_from_env({})
    assert eager and options == {}
    assert not [m for m in _eager_call_logs(url, caplog) if "No hostname" in m]


def test_the_warning_it_silences_is_real(caplog):
    """Without the in-memory transport an eager call makes kombu warn: the test above can fail."""
    assert [m for m in _eager_call_logs("", caplog) if "No hostname" in m]
