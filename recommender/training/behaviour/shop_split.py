"""The split a shop's behaviour model is validated on: the last days' purchases, as served.

    split = shop_split(data, cfg)      # time split when the window has enough buyers, else leave-last-out

"For you" is asked for a shopper's next purchases from everything they did before. A time split
validates exactly that: train on events before ``end - valid_days``, and for every shopper with
earlier events, the targets are the distinct products they bought in the window, ranked from
their history before it. Leave-one-out on the collapsed sequences (the newest product, whatever
the event) ranks something else: on H&M it tuned the repurchase weight to 0 while the time split
gives it the largest weight. A shop with too few buyers in the window (``time_split_min_users``)
falls back to leaving each shopper's newest product out (``leave_last_out``: it validates, the
rest trains), which needs only three products per shopper.

Neither keeps a separate test set back (the newest days or products serve as validation, and
the model learns from everything else): the split's ``test`` is its ``valid``, and
``info["protocol"]`` says which split it was.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from recommender.behaviour.codes import PURCHASE
from recommender.training.behaviour.data import EvalSet, SequenceData, Split, leave_last_out

__all__ = ["shop_split", "time_window_split"]

DAY = 86_400.0


def time_window_split(data: SequenceData, cut: float) -> Split:
    """Train on events before ``cut`` (POSIX time); validate on purchases from ``cut`` on.

    Only shoppers with a history before ``cut`` are validated; types come with every history.
    """
    if data.times is None:
        raise ValueError("time_window_split needs event times (SequenceData.times)")
    types = data.types or [[PURCHASE] * len(seq) for seq in data.sequences]
    train, train_types, histories, targets, history_types = [], [], [], [], []
    for seq, kinds, times in zip(data.sequences, types, data.times, strict=True):
        n = sum(1 for t in times if t < cut)
        if n >= 2:
            train.append(list(seq[:n]))
            train_types.append(list(kinds[:n]))
        bought = list(dict.fromkeys(i for i, k, t in zip(seq, kinds, times, strict=True) if t >= cut and k == PURCHASE))
        if n and bought:
            histories.append(list(seq[:n]))
            targets.append(bought)
            history_types.append(list(kinds[:n]))
    valid = EvalSet(histories, targets, history_types)
    when = datetime.fromtimestamp(cut, tz=UTC).isoformat()
    return Split(train, valid, valid, train_types, info={"protocol": "time split", "valid_from": when})


def shop_split(data: SequenceData, cfg: dict[str, Any]) -> Split:
    """:func:`time_window_split` over the last ``cfg["valid_days"]`` days when at least
    ``cfg["time_split_min_users"]`` shoppers are validated, else :func:`leave_last_out`."""
    days = float(cfg.get("valid_days") or 0.0)
    ends = [times[-1] for times in data.times or [] if times]
    if days > 0 and ends:
        split = time_window_split(data, max(ends) - days * DAY)
        if len(split.valid) >= max(1, int(cfg.get("time_split_min_users") or 0)) and split.train:
            return split
    return leave_last_out(data.sequences, data.types, min_length=max(3, int(cfg["min_events"])))
