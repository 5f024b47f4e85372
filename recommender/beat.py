"""The app's periodic tasks, installed as django-celery-beat ``PeriodicTask`` rows.

    install_periodic_tasks()            # or: manage.py recommender_setup_beat

Shop owners then edit the schedules in the admin (Periodic tasks), and beat runs with
``CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"``. Installing again
is harmless: missing tasks are created, and for existing ones only the task path and the
description follow the code; the schedule, arguments and the enabled flag stay as the owner left
them. To add a periodic task, append a :class:`PeriodicSpec` to ``DEFAULT_SCHEDULE``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

__all__ = ["DEFAULT_SCHEDULE", "InstallReport", "PeriodicSpec", "install_periodic_tasks"]


@dataclass(frozen=True)
class PeriodicSpec:
    """One periodic task: a unique name, the Celery task, and either an interval or a crontab."""

    name: str
    task: str
    description: str = ""
    # Interval: run every ``every`` ``period`` ("seconds", "minutes", "hours", "days").
    every: int | None = None
    period: str = "minutes"
    # Crontab fields, e.g. {"minute": "30", "hour": "3"} (missing fields are "*").
    crontab: dict[str, str] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.crontab is None):
            raise ValueError(f"Periodic task {self.name!r} needs exactly one of `every` or `crontab`.")


DEFAULT_SCHEDULE: list[PeriodicSpec] = [
    PeriodicSpec(
        name="recommender: embed pending products",
        task="recommender.embed_pending",
        every=10,
        period="minutes",
        description="Embed products that were queued while the broker was unavailable.",
    ),
    PeriodicSpec(
        name="recommender: process pending events",
        task="recommender.process_pending_events",
        every=10,
        period="minutes",
        description="Update profiles of shoppers whose events were stored while the broker was down.",
    ),
    PeriodicSpec(
        name="recommender: rebuild profiles",
        task="recommender.rebuild_profiles",
        crontab={"minute": "15", "hour": "3"},
        description="Rebuild the profiles of shoppers active in the last 90 days.",
    ),
    PeriodicSpec(
        name="recommender: refresh search suggestions",
        task="recommender.refresh_suggestions",
        every=1,
        period="hours",
        description="Rebuild search suggestions from the query log and the catalog.",
    ),
    PeriodicSpec(
        name="recommender: count product neighbours",
        task="recommender.refresh_neighbours",
        every=10,
        period="minutes",
        description='Recount "bought together" and "also viewed" from the events, so pages read no events.',
    ),
    PeriodicSpec(
        name="recommender: prune old events",
        task="recommender.prune_events",
        crontab={"minute": "45", "hour": "3"},
        description="Retention: delete events older than EVENT_RETENTION_DAYS.",
    ),
    PeriodicSpec(
        name="recommender: retrain behaviour model",
        task="recommender.train_behaviour",
        crontab={"minute": "0", "hour": "4", "day_of_week": "0"},
        description="Weekly retraining of the next-item model on fresh events.",
    ),
    PeriodicSpec(
        name="recommender: update bandit experiments",
        task="recommender.update_bandits",
        every=1,
        period="minutes",
        description="Recompute the Thompson-sampling traffic shares of running bandit experiments.",
    ),
]


@dataclass
class InstallReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _schedule_fields(spec: PeriodicSpec) -> dict[str, Any]:
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule

    if spec.every is not None:
        interval = IntervalSchedule.objects.filter(every=spec.every, period=spec.period).order_by("pk").first()
        if interval is None:
            interval = IntervalSchedule.objects.create(every=spec.every, period=spec.period)
        return {"interval": interval, "crontab": None}
    cron = {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*", **spec.crontab}
    crontab = CrontabSchedule.objects.filter(**cron).order_by("pk").first() or CrontabSchedule.objects.create(**cron)
    return {"interval": None, "crontab": crontab}


@transaction.atomic
def install_periodic_tasks(schedule: Iterable[PeriodicSpec] | None = None) -> InstallReport:
    """Create the missing periodic tasks; update only the code-owned fields of existing ones."""
    from django_celery_beat.models import PeriodicTask

    report = InstallReport()
    for spec in DEFAULT_SCHEDULE if schedule is None else schedule:
        existing = PeriodicTask.objects.select_for_update().filter(name=spec.name).first()
        if existing is None:
            PeriodicTask.objects.create(
                name=spec.name,
                task=spec.task,
                description=spec.description,
                kwargs=json.dumps(spec.kwargs),
                queue=spec.queue,
                **_schedule_fields(spec),
            )
            report.created.append(spec.name)
            continue
        owned = {"task": spec.task, "description": spec.description}
        changed = [name for name, value in owned.items() if getattr(existing, name) != value]
        if changed:
            for name in changed:
                setattr(existing, name, owned[name])
            existing.save(update_fields=changed)
            report.updated.append(spec.name)
        else:
            report.unchanged.append(spec.name)
    return report
