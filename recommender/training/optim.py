"""Optimiser and learning-rate schedule for contrastive training.

Usage::

    optimizer = build_optimizer(trainable_named_parameters, lr=1e-3, weight_decay=0.05)
    for step in range(total):
        set_lr(optimizer, warmup_cosine(step, total, warmup_steps, base_lr=1e-3))

AdamW with decay only on weight matrices and convolution kernels, as in open_clip's training:
decaying norms, biases and the logit scale only hurts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

__all__ = ["build_optimizer", "set_lr", "warmup_cosine"]


def build_optimizer(
    named_parameters: Iterable[tuple[str, torch.nn.Parameter]], *, lr: float, weight_decay: float
) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for name, parameter in named_parameters:
        if not parameter.requires_grad:
            continue
        if parameter.ndim < 2 or "logit_scale" in name or name.endswith(".bias"):
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([group for group in groups if group["params"]], lr=lr)


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, *, base_lr: float) -> float:
    """Linear warm-up to ``base_lr`` over ``warmup_steps``, then cosine decay to 0 at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    remaining = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / remaining, 1.0)
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
