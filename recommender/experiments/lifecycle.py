"""Starting, pausing, stopping an experiment and promoting its winner (admin and API call these).

Promoting a variant stops the experiment and makes the winner the slots' default: its strategy
becomes the admin's *default strategy per slot*, and the stopped experiment keeps serving the
winner's parameters (λ, rules, categories, limit, behaviour model) to everyone, uncounted, until
it is deleted. A stopped experiment without a winner serves nothing: the slots' own strategy.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from recommender.cache import bump_global_generation
from recommender.models import Experiment, RecommenderSettings, Variant

__all__ = ["ExperimentStateError", "pause", "promote", "start", "stop"]


class ExperimentStateError(ValueError):
    """The experiment cannot make this move (no variants, no control, already stopped…)."""


def start(experiment: Experiment) -> Experiment:
    """Run a draft or paused experiment (it needs exactly one control and a positive weight)."""
    if experiment.status == Experiment.Status.STOPPED:
        raise ExperimentStateError(gettext("A stopped experiment cannot be restarted; copy it into a new one."))
    variants = list(experiment.variants.all())
    if sum(v.is_control for v in variants) != 1:
        raise ExperimentStateError(gettext("An experiment needs exactly one control variant to start."))
    if len(variants) < 2 or sum(v.weight for v in variants) <= 0:
        raise ExperimentStateError(gettext("An experiment needs at least two variants and a positive total weight."))
    if not experiment.slots:
        raise ExperimentStateError(gettext("An experiment needs at least one slot."))
    return _set(experiment, Experiment.Status.RUNNING)


def pause(experiment: Experiment) -> Experiment:
    """Stop assigning shoppers for now (the slots serve their default); start() resumes."""
    if experiment.status != Experiment.Status.RUNNING:
        raise ExperimentStateError(gettext("Only a running experiment can be paused."))
    return _set(experiment, Experiment.Status.PAUSED)


def stop(experiment: Experiment) -> Experiment:
    """End the experiment for good: the slots serve their default again."""
    return _set(experiment, Experiment.Status.STOPPED)


@transaction.atomic
def promote(experiment: Experiment, variant: Variant) -> Experiment:
    """Make ``variant`` the default of the experiment's slots and stop the experiment."""
    if variant.experiment_id != experiment.pk:
        raise ExperimentStateError(gettext("That variant belongs to another experiment."))
    if variant.strategy:
        settings = RecommenderSettings.objects.select_for_update().get_or_create(pk=1)[0]
        settings.slot_strategies = {
            **(settings.slot_strategies or {}),
            **dict.fromkeys(experiment.slots, variant.strategy),
        }
        settings.save()
    experiment.winner = variant
    experiment.status = Experiment.Status.STOPPED
    if experiment.ends_at is None or experiment.ends_at > timezone.now():
        experiment.ends_at = timezone.now()
    experiment.save()
    transaction.on_commit(bump_global_generation)
    return experiment


def _set(experiment: Experiment, status: str) -> Experiment:
    experiment.status = status
    experiment.save(update_fields=["status", "updated_at"])
    return experiment
