"""Which variant a shopper sees in a slot: ``choose_variant(slot, ...)``, called by ``recommend()``.

The rule: a SHA-256 hash of (experiment id, unit) is read as a number in [0, 1) and falls into
one variant's share of the weights (cumulative, in the variants' order). The unit is the
anonymous shopper id kept in the Django session (it survives login), else the user id; so the
choice is sticky (the same shopper, the same variant), balanced (hashes are uniform) and
independent between experiments. A logged-in shopper's first choice is stored
(``UserAssignment``), so they keep the variant they had anonymously, also on other devices.

- Opted-out shoppers and shoppers without any id (a crawler's first request) see the control
  and are not counted.
- Staff may force a variant with ``?rec_variant=<name or id>`` (API and pages); an unknown
  variant raises :class:`UnknownVariant` (the API answers 400). Previews are not counted.
- A variant whose strategy no longer exists, or whose pinned behaviour version was deleted,
  serves the control with a logged warning (never a 500 or an empty slot).
- Bandit experiments use the same hash over their current Thompson shares (``bandit.py``); a
  shopper may move to another variant when the shares move.

Running experiments are read once per ``CONFIG_SECONDS`` per process (Django's cache); saving
an experiment or variant clears that entry.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext

from recommender.models import Experiment, ModelVersion, UserAssignment, Variant
from recommender.models.experiments import CONFIG_CACHE_KEY
from recommender.privacy import personalisation_enabled
from recommender.strategies import STRATEGIES

logger = logging.getLogger(__name__)

__all__ = ["PREVIEW_PARAMETER", "UnknownVariant", "VariantChoice", "bucket", "choose_variant", "live_experiments"]

PREVIEW_PARAMETER = "rec_variant"
# Long enough to spare a query per slot, short enough that other processes follow edits quickly.
CONFIG_SECONDS = 30
# A stored user assignment is re-read at most this often per process.
ASSIGNMENT_SECONDS = 3600


class UnknownVariant(ValueError):
    """A forced preview named no variant of the experiments on this slot."""


@dataclass(frozen=True)
class VariantChoice:
    """What the slot serves: the variant's parameters (None = the slot's own) and whether to count it."""

    experiment_id: int
    variant_id: int
    variant_name: str
    strategy: str | None = None
    behaviour: Any = None  # None: the active model; False: off; a ModelVersion: pinned
    diversity_lambda: float | None = None
    use_rules: bool = True
    categories: tuple[str, ...] = ()
    limit: int | None = None
    record: bool = True  # False for previews, promoted winners and fallbacks without a unit

    @property
    def cache_part(self) -> tuple:
        """What makes cached results of this choice differ from other variants'."""
        behaviour = getattr(self.behaviour, "pk", self.behaviour)
        return (
            self.variant_id,
            self.strategy,
            behaviour,
            self.diversity_lambda,
            self.use_rules,
            self.categories,
            self.limit,
        )


@dataclass(frozen=True)
class _Variant:
    id: int
    name: str
    is_control: bool
    weight: float
    strategy: str
    behaviour: str
    model_version: ModelVersion | None
    diversity_lambda: float | None
    use_rules: bool
    categories: tuple[str, ...]
    limit: int | None


@dataclass(frozen=True)
class _Experiment:
    id: int
    slots: tuple[str, ...]
    status: str
    mode: str
    starts_at: Any
    ends_at: Any
    winner_id: int | None
    variants: tuple[_Variant, ...] = field(default_factory=tuple)

    def live(self, now: Any) -> bool:
        return (
            self.status == Experiment.Status.RUNNING
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )

    @property
    def control(self) -> _Variant | None:
        return next((v for v in self.variants if v.is_control), self.variants[0] if self.variants else None)


def live_experiments() -> list[_Experiment]:
    """Experiments that may shape a slot (running, or stopped with a promoted winner), cached."""
    snapshot = cache.get(CONFIG_CACHE_KEY)
    if snapshot is None:
        snapshot = _load()
        cache.set(CONFIG_CACHE_KEY, snapshot, CONFIG_SECONDS)
    return snapshot


def _load() -> list[_Experiment]:
    rows = Experiment.objects.filter(status__in=[Experiment.Status.RUNNING, Experiment.Status.STOPPED]).exclude(
        status=Experiment.Status.STOPPED, winner__isnull=True
    )
    out = []
    # Oldest first: when two experiments share a slot the older one serves (check recommender.W035).
    for exp in rows.order_by("created_at", "pk").prefetch_related("variants__model_version"):
        variants = tuple(
            _Variant(
                id=v.pk,
                name=v.name,
                is_control=v.is_control,
                weight=_weight(exp, v),
                strategy=v.strategy,
                behaviour=v.behaviour,
                model_version=v.model_version,
                diversity_lambda=v.diversity_lambda,
                use_rules=v.use_rules,
                categories=tuple(str(c) for c in (v.categories or [])),
                limit=v.limit,
            )
            for v in exp.variants.all()
        )
        slots = tuple(str(s) for s in (exp.slots or []))
        out.append(
            _Experiment(exp.pk, slots, exp.status, exp.mode, exp.starts_at, exp.ends_at, exp.winner_id, variants)
        )
    return out


def _weight(exp: Experiment, variant: Variant) -> float:
    if exp.mode == Experiment.Mode.BANDIT and variant.bandit_share is not None:
        return max(0.0, variant.bandit_share)
    return max(0.0, variant.weight)


def bucket(experiment_id: int, unit: str) -> float:
    """The unit's fixed position in [0, 1) for this experiment."""
    digest = hashlib.sha256(f"{experiment_id}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _by_hash(exp: _Experiment, unit: str) -> _Variant:
    total = sum(v.weight for v in exp.variants)
    if total <= 0:
        return exp.control
    point = bucket(exp.id, unit) * total
    running = 0.0
    for variant in exp.variants:
        running += variant.weight
        if point < running:
            return variant
    return exp.variants[-1]


def choose_variant(
    slot: str, *, user_id: Any = None, session_key: str = "", preview: str = "", may_preview: bool = False
) -> VariantChoice | None:
    """The variant of the first live experiment on ``slot`` for this shopper, or None (no experiment).

    ``preview`` (a variant name or id) is honoured only with ``may_preview`` (staff); raises
    :class:`UnknownVariant` when it names no variant here.
    """
    if not slot:
        return None
    now = timezone.now()
    for exp in live_experiments():
        if slot not in exp.slots or not exp.variants:
            continue
        if exp.status == Experiment.Status.STOPPED:  # a promoted winner serves everyone, uncounted
            winner = next((v for v in exp.variants if v.id == exp.winner_id), None)
            return _resolve(exp, winner, record=False) if winner is not None else None
        if not exp.live(now):
            continue
        if preview and may_preview:
            wanted = next((v for v in exp.variants if preview in (v.name, str(v.id))), None)
            if wanted is None:
                names = ", ".join(v.name for v in exp.variants)
                raise UnknownVariant(
                    gettext("No variant %(variant)r on slot %(slot)r; expected one of: %(names)s.")
                    % {"variant": preview[:64], "slot": slot, "names": names}
                )
            return _resolve(exp, wanted, record=False)
        unit = f"s:{session_key}" if session_key else (f"u:{user_id}" if user_id is not None else "")
        if not unit or not personalisation_enabled(user_id):
            return _resolve(exp, exp.control, record=False)
        variant = _assigned(exp, user_id, unit) if user_id is not None else _by_hash(exp, unit)
        return _resolve(exp, variant, record=True)
    return None


def _assigned(exp: _Experiment, user_id: Any, unit: str) -> _Variant:
    """A logged-in shopper's stored variant (fixed from their anonymous unit on first sight)."""
    if exp.mode == Experiment.Mode.BANDIT:
        return _by_hash(exp, unit)  # shares move: nothing to pin
    key = f"recommender:exp:{exp.id}:u:{user_id}"
    variant_id = cache.get(key)
    if variant_id is None:
        chosen = _by_hash(exp, unit)
        try:
            UserAssignment.objects.bulk_create(
                [UserAssignment(experiment_id=exp.id, user_id=user_id, variant_id=chosen.id)], ignore_conflicts=True
            )
            variant_id = (
                UserAssignment.objects.filter(experiment_id=exp.id, user_id=user_id)
                .values_list("variant_id", flat=True)
                .first()
            )
        except DatabaseError:  # a variant deleted meanwhile: the hash still gives a sticky answer
            logger.warning("Could not store the assignment of user %s in experiment %s.", user_id, exp.id)
            return chosen
        cache.set(key, variant_id, ASSIGNMENT_SECONDS)
    return next((v for v in exp.variants if v.id == variant_id), None) or _by_hash(exp, unit)


def _resolve(exp: _Experiment, variant: _Variant, *, record: bool) -> VariantChoice | None:
    """The variant's parameters, or the control's when the variant cannot be served."""
    problem = _unservable(variant)
    if problem:
        control = exp.control
        logger.warning("Experiment %s variant %r %s; serving the control.", exp.id, variant.name, problem)
        if control is None or control.id == variant.id or _unservable(control):
            logger.warning("Experiment %s has no servable control; serving the slot's default.", exp.id)
            return None
        variant = control
    behaviour: Any = None
    if variant.behaviour == Variant.Behaviour.OFF:
        behaviour = False
    elif variant.behaviour == Variant.Behaviour.PINNED:
        behaviour = variant.model_version
    return VariantChoice(
        experiment_id=exp.id,
        variant_id=variant.id,
        variant_name=variant.name,
        strategy=variant.strategy or None,
        behaviour=behaviour,
        diversity_lambda=variant.diversity_lambda,
        use_rules=variant.use_rules,
        categories=variant.categories,
        limit=variant.limit,
        record=record,
    )


def _unservable(variant: _Variant) -> str:
    if variant.strategy and variant.strategy not in STRATEGIES:
        return f"names strategy {variant.strategy!r}, which does not exist"
    if variant.behaviour == Variant.Behaviour.PINNED and variant.model_version is None:
        return "is pinned to a behaviour version that was deleted"
    return ""
