"""Periodic tasks for django-celery-beat: installed idempotently, owners' edits are kept."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from recommender.beat import DEFAULT_SCHEDULE, PeriodicSpec, install_periodic_tasks
from tests.test_admin import fast_passwords, fresh_cache  # noqa: F401 - autouse fixtures

pytestmark = pytest.mark.django_db

EMBED_PENDING = "recommender: embed pending products"


def test_default_schedule_installs_embed_pending_every_ten_minutes():
    report = install_periodic_tasks()
    assert report.created == [spec.name for spec in DEFAULT_SCHEDULE] and EMBED_PENDING in report.created
    task = PeriodicTask.objects.get(name=EMBED_PENDING)
    assert task.task == "recommender.embed_pending" and task.enabled
    assert (task.interval.every, task.interval.period) == (10, IntervalSchedule.MINUTES)
    assert json.loads(task.kwargs) == {}


def test_installing_again_changes_nothing():
    install_periodic_tasks()
    counts = (PeriodicTask.objects.count(), IntervalSchedule.objects.count())
    report = install_periodic_tasks()
    assert report.created == [] and report.updated == [] and report.unchanged == [s.name for s in DEFAULT_SCHEDULE]
    assert (PeriodicTask.objects.count(), IntervalSchedule.objects.count()) == counts


def test_an_owners_schedule_edits_are_kept_but_the_task_path_follows_the_code():
    install_periodic_tasks()
    task = PeriodicTask.objects.get(name=EMBED_PENDING)
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    task.interval, task.enabled, task.kwargs = hourly, False, json.dumps({"limit": 50})
    task.save()
    renamed = [PeriodicSpec(name=EMBED_PENDING, task="recommender.embed_pending_v2", every=10, description="new")]
    report = install_periodic_tasks(renamed)
    assert report.updated == [EMBED_PENDING]
    task.refresh_from_db()
    assert (task.task, task.description) == ("recommender.embed_pending_v2", "new")
    assert task.interval == hourly and task.enabled is False and json.loads(task.kwargs) == {"limit": 50}


def test_crontab_specs_and_reused_schedules():
    specs = [
        PeriodicSpec(name="nightly", task="recommender.retrain", crontab={"minute": "30", "hour": "3"}),
        PeriodicSpec(
            name="nightly too", task="recommender.prune", crontab={"minute": "30", "hour": "3"}, kwargs={"days": 90}
        ),
    ]
    install_periodic_tasks(specs)
    first, second = (PeriodicTask.objects.get(name=s.name) for s in specs)
    assert first.crontab == second.crontab and first.interval is None
    assert (first.crontab.minute, first.crontab.hour, first.crontab.day_of_week) == ("30", "3", "*")
    assert CrontabSchedule.objects.count() == 1 and json.loads(second.kwargs) == {"days": 90}
    with pytest.raises(ValueError):
        PeriodicSpec(name="both", task="x", every=5, crontab={"minute": "0"})
    with pytest.raises(ValueError):
        PeriodicSpec(name="neither", task="x")


def test_the_command_reports_what_it_did():
    from io import StringIO

    out = StringIO()
    call_command("recommender_setup_beat", stdout=out)
    call_command("recommender_setup_beat", stdout=out)
    text = out.getvalue()
    assert f"created: {EMBED_PENDING}" in text and f"unchanged: {EMBED_PENDING}" in text
    assert PeriodicTask.objects.filter(name=EMBED_PENDING).count() == 1


def test_periodic_tasks_are_editable_in_the_admin(admin_client):
    install_periodic_tasks()
    task = PeriodicTask.objects.get(name=EMBED_PENDING)
    assert EMBED_PENDING in admin_client.get("/admin/django_celery_beat/periodictask/").content.decode()
    assert admin_client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/").status_code == 200
