"""The behaviour model against every baseline on this shop's events: ``manage.py recommender_evaluate``.

report = run_evaluation(overrides={"epochs": 20})
write_report(report, folder, "behaviour_shop")       # recommender.training.behaviour.report
"""

from __future__ import annotations

from typing import Any

from recommender.behaviour.config import behaviour_config
from recommender.training.behaviour.report import OnEpoch, leave_one_out_report
from recommender.training.behaviour.shop import load_shop

__all__ = ["run_evaluation"]


def run_evaluation(
    *, overrides: dict[str, Any] | None = None, progress: bool = False, on_epoch: OnEpoch = None
) -> dict[str, Any]:
    """The model and every baseline on this shop's events (:func:`leave_one_out_report`).

    Items are the serving encoder version's products; raises ValueError when there is nothing
    to train on (no active encoder version, no events).
    """
    cfg = behaviour_config(overrides)
    return leave_one_out_report(load_shop(cfg), cfg, progress=progress, on_epoch=on_epoch)
