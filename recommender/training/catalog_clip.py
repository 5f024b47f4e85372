"""Train the catalog CLIP (or fine-tune a pretrained CLIP) on a shop's own (image, text) pairs.

Usage::

    from recommender.training.catalog_clip import train_catalog_clip

    result = train_catalog_clip(
        [(product.pk, product.image, product_text(product)) for product in products],
        "var/models/catalog-clip",
    )
    result.final_metrics["t2i_r10"]            # held-out text->image Recall@10
    OpenClipEncoder(f"local-dir:{result.model_dir}")

The catalog CLIP is open_clip's ``CustomTextCLIP`` with the pretrained all-MiniLM-L6-v2 as a
locked text tower (mean pooling, no projection: text vectors are exactly MiniLM's sentence
embeddings) and a randomly initialised timm resnet18 image tower at 64 px, trained with
open_clip's ``ClipLoss`` so images land in MiniLM's space (LiT-style). Because the text tower is
frozen, text vectors are computed once; images are decoded once into uint8 tensors; each epoch
then trains only the image tower. With ``base_model`` a pretrained CLIP is fine-tuned the same
way (its text tower frozen; optionally only the image projection head trained).

Images are padded to a square on white, not centre-cropped, and the saved ``preprocess_cfg``
says so, so serving sees exactly what training saw. Runs are reproducible for a given seed and
thread count; the held-out split is a seeded random ``val_fraction`` of the products.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from open_clip import ClipLoss, CustomTextCLIP
from tqdm.auto import tqdm

from recommender.encoders.configs import CATALOG_CLIP, CATALOG_CLIP_PREPROCESS, load_model_config
from recommender.encoders.loading import load_open_clip, make_tokenizer
from recommender.encoders.local_dir import local_dir_version, read_local_dir_config, save_local_dir
from recommender.encoders.open_clip_encoder import OpenClipEncoder
from recommender.encoders.packaged import resolve_config
from recommender.encoders.runtime import autocast, resolve_device, resolve_precision
from recommender.encoders.spec import EncoderSpec
from recommender.training.defaults import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_IMAGE_SIZE, DEFAULT_LR

from .data import cache_pairs, split_indices
from .metrics import retrieval_recalls
from .optim import build_optimizer, set_lr, warmup_cosine
from .plots import plot_history

__all__ = ["TrainingResult", "train_catalog_clip"]

# Defaults (measured on H&M): recommender/training/defaults.py, torch-free for the admin form.
# open_clip clamps the learned temperature at 100 (logit scale ln 100) to keep training stable.
MAX_LOGIT_SCALE = math.log(100.0)
# Light decay on weights only (see optim.py); the image tower starts random and data is small.
WEIGHT_DECAY = 0.05
# Pad colour of the catalog preprocessing, also used when fine-tuning a pretrained CLIP.
SQUARE_PAD = {"resize_mode": "longest", "fill_color": 255}
# Inference batch on CPU (text cache, validation): length-sorted MiniLM batches of 32 measured
# ~20 % faster than 128 on 2 cores (less padding, better cache use); GPUs use the training batch.
CPU_INFERENCE_BATCH = 32
METRICS_NAME = "metrics.json"
PLOT_NAME = "training_curves.png"

Pair = tuple[str, Any, str]


@dataclass
class TrainingResult:
    """What a run produced; ``encoder`` is the trained model in memory (same vectors as the saved one)."""

    model_dir: Path
    metrics_path: Path
    plot_path: Path | None
    history: list[dict[str, Any]]
    final_metrics: dict[str, float]
    train_seconds: float
    config: dict[str, Any]
    settings: dict[str, Any]
    n_train: int
    n_val: int
    val_keys: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    encoder: OpenClipEncoder | None = field(default=None, repr=False)

    @property
    def model_id(self) -> str:
        """The ``RECOMMENDER["ENCODER"]["MODEL"]`` value that serves this model."""
        return f"local-dir:{self.model_dir}"


def train_catalog_clip(
    pairs: Sequence[Pair],
    output_dir: str | Path,
    *,
    base_model: Mapping[str, Any] | None = None,
    model_config: str | Path | Mapping[str, Any] | None = None,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lr: float = DEFAULT_LR,
    warmup: float = 0.1,
    image_size: int = DEFAULT_IMAGE_SIZE,
    seed: int = 0,
    val_fraction: float = 0.1,
    train_only_heads: bool = False,
    device: str = "auto",
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainingResult:
    """Train on ``pairs`` of ``(key, image_source, text)`` and save a ``local-dir:`` model in ``output_dir``.

    ``base_model`` is an encoder spec (``{"MODEL": ..., "PRETRAINED": ...}``) to fine-tune instead
    of building the catalog CLIP; ``model_config`` replaces the catalog CLIP architecture (a
    shipped config name, a JSON path or a dict; tests use tiny ones). ``warmup`` is the fraction
    of all optimiser steps spent warming up linearly. ``image_size`` applies to the catalog CLIP
    only; a fine-tuned model keeps its own. Pairs whose image cannot be loaded are skipped and
    listed in ``result.skipped``. ``on_epoch`` receives each epoch's metrics.
    """
    if epochs < 0 or batch_size < 2:
        raise ValueError("epochs must be >= 0 and batch_size >= 2")
    started = time.perf_counter()
    # CPU time of all threads: with other jobs on the machine, wall time says little about the
    # cost of training itself, while process CPU time / threads estimates the uncontended wall time.
    cpu_started = time.process_time()
    seconds: dict[str, float] = {}
    output_dir = Path(output_dir)
    _seed_everything(seed)
    torch_device = resolve_device(device)
    # bf16 autocast on GPUs that have it; fp32 elsewhere (fp16 would need a grad scaler).
    amp_dtype = torch.bfloat16 if resolve_precision(torch_device, "auto") is torch.bfloat16 else None

    model, model_cfg, tokenizer, base_id = _build_model(base_model, model_config, image_size, torch_device)
    for parameter in _text_parameters(model):
        parameter.requires_grad_(False)
    trainable = _select_trainable(model, train_only_heads)
    encoder = OpenClipEncoder.from_model(
        model,
        model_cfg=model_cfg,
        version="unsaved",
        tokenizer=tokenizer,
        precision="auto",
        batch_size=batch_size if torch_device.type == "cuda" else CPU_INFERENCE_BATCH,
    )

    phase = time.perf_counter()
    data = cache_pairs(pairs, encoder.pixels, progress=progress)
    seconds["cache_images"] = time.perf_counter() - phase
    if len(data.keys) < 2:
        raise ValueError(
            f"Need at least 2 pairs with a loadable image, got {len(data.keys)} (skipped: {len(data.skipped)})."
        )
    phase = time.perf_counter()
    text_vectors = torch.from_numpy(encoder.encode_texts(data.texts))
    seconds["encode_texts"] = time.perf_counter() - phase

    train_idx, val_idx = split_indices(len(data.keys), val_fraction=val_fraction, seed=seed)
    if len(train_idx) < 2:
        raise ValueError("Fewer than 2 training pairs remain after the held-out split.")
    val_tensor = torch.from_numpy(val_idx)
    settings = {
        "base_model": base_id,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "warmup": warmup,
        "weight_decay": WEIGHT_DECAY,
        "image_size": encoder.pixels.cfg.size,
        "seed": seed,
        "val_fraction": val_fraction,
        "train_only_heads": train_only_heads,
        "device": str(torch_device),
        "torch_threads": torch.get_num_threads(),
        "loss": "open_clip.ClipLoss",
        "augmentation": "horizontal flip",
    }

    history: list[dict[str, Any]] = []

    def validate(epoch: int, extra: dict[str, Any]) -> None:
        metrics: dict[str, Any] = {"epoch": epoch, **extra}
        if len(val_idx):
            image_vectors = encoder.encode_pixels(data.pixels[val_tensor])
            metrics.update(retrieval_recalls(image_vectors, text_vectors[val_tensor].numpy()))
        metrics["elapsed_seconds"] = round(time.perf_counter() - started, 2)
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(dict(metrics))

    validate(0, {"train_loss": None})  # the untrained baseline, ~chance level

    optimizer = build_optimizer(trainable, lr=lr, weight_decay=WEIGHT_DECAY)
    step_fn = _ContrastiveStep(model, optimizer, encoder.pixels.normalize, torch_device, amp_dtype)
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(train_idx) / batch_size)
    total_steps = max(steps_per_epoch * epochs, 1)
    warmup_steps = round(warmup * total_steps)
    train_tensor = torch.from_numpy(train_idx)
    step = 0
    phase = time.perf_counter()
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        # With only the heads trained, batch-norm statistics stay frozen as well.
        model.visual.train(not train_only_heads)
        order = train_tensor[torch.randperm(len(train_tensor), generator=generator)]
        losses: list[float] = []
        current_lr = lr
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{epochs}", disable=not progress, leave=False)
        for batch_number in bar:
            rows = order[batch_number * batch_size : (batch_number + 1) * batch_size]
            current_lr = warmup_cosine(step, total_steps, warmup_steps, base_lr=lr)
            step += 1
            if len(rows) < 2:  # a contrastive batch of one teaches nothing
                continue
            set_lr(optimizer, current_lr)
            pixels = _random_flip(data.pixels[rows], generator)
            losses.append(step_fn(pixels, text_vectors[rows]))
            bar.set_postfix(loss=f"{losses[-1]:.3f}", lr=f"{current_lr:.1e}")
        validate(
            epoch,
            {
                "train_loss": float(np.mean(losses)) if losses else None,
                "lr": current_lr,
                "logit_scale": model.logit_scale.detach().exp().item(),
                "epoch_seconds": round(time.perf_counter() - epoch_start, 2),
            },
        )
    seconds["train_epochs"] = time.perf_counter() - phase
    model.eval()

    final = {key: value for key, value in history[-1].items() if key[:4] in ("i2t_", "t2i_")}
    extra = {
        "kind": "fine-tuned CLIP" if base_model else "catalog CLIP",
        **settings,
        "n_train": len(train_idx),
        "n_val": len(val_idx),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "final_metrics": final,
    }
    phase = time.perf_counter()
    save_local_dir(
        model,
        output_dir,
        model_cfg=model_cfg,
        preprocess_cfg=_jsonable(open_clip.get_model_preprocess_cfg(model)),
        extra=extra,
    )
    seconds["save"] = time.perf_counter() - phase
    encoder.version = local_dir_version(output_dir)
    train_seconds = time.perf_counter() - started
    seconds["total"] = train_seconds
    seconds["process_cpu"] = time.process_time() - cpu_started

    plot_path = plot_history(history, output_dir / PLOT_NAME, title=f"{extra['kind']} — held-out {len(val_idx)}")
    metrics_path = output_dir / METRICS_NAME
    report = {
        "version": encoder.version,
        "settings": settings,
        "history": history,
        "final_metrics": final,
        "n_train": len(train_idx),
        "n_val": len(val_idx),
        "train_seconds": round(train_seconds, 2),
        "seconds": {key: round(value, 2) for key, value in seconds.items()},
        "skipped_count": len(data.skipped),
        "skipped": data.skipped,
    }
    metrics_path.write_text(_dumps(report), encoding="utf-8")
    return TrainingResult(
        model_dir=output_dir,
        metrics_path=metrics_path,
        plot_path=plot_path,
        history=history,
        final_metrics=final,
        train_seconds=train_seconds,
        config=read_local_dir_config(output_dir),
        settings=settings,
        n_train=len(train_idx),
        n_val=len(val_idx),
        val_keys=[data.keys[index] for index in val_idx],
        skipped=data.skipped,
        seconds=seconds,
        encoder=encoder,
    )


class _ContrastiveStep:
    """One optimiser step of open_clip's ClipLoss between image features and fixed text vectors."""

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        normalize: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device,
        amp_dtype: torch.dtype | None,
    ) -> None:
        self.model, self.optimizer, self.normalize = model, optimizer, normalize
        self.device, self.amp_dtype = device, amp_dtype
        self.loss_fn = ClipLoss()

    def __call__(self, pixels: torch.Tensor, text_vectors: torch.Tensor) -> float:
        inputs = self.normalize(pixels.to(self.device))
        if self.device.type == "cpu":
            inputs = inputs.contiguous(memory_format=torch.channels_last)  # ~20 % faster convs on CPU
        with autocast(self.device, self.amp_dtype):
            image_features = self.model.encode_image(inputs)
        image_features = F.normalize(image_features.float(), dim=-1)
        loss = self.loss_fn(image_features, text_vectors.to(self.device), self.model.logit_scale.exp())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            self.model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        return loss.detach().item()


def _random_flip(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror about half the images left-right: garments are symmetric enough, texts rarely say "left"."""
    flip = torch.rand(len(pixels), generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], pixels.flip(-1), pixels)


def _build_model(
    base_model: Mapping[str, Any] | None,
    model_config: str | Path | Mapping[str, Any] | None,
    image_size: int,
    device: torch.device,
) -> tuple[torch.nn.Module, dict[str, Any], Any, str | None]:
    """(model, stored model_cfg, tokenizer, base id) — the catalog CLIP, or a loaded base to fine-tune."""
    if base_model is not None:
        spec = EncoderSpec.from_mapping(base_model)
        loaded = load_open_clip(spec.model, spec.pretrained, device=device)
        preprocess = {**open_clip.get_model_preprocess_cfg(loaded.model), **SQUARE_PAD}
        open_clip.set_model_preprocess_cfg(loaded.model, preprocess)
        return loaded.model, loaded.model_cfg, loaded.tokenizer, _portable_id(spec.model, spec.pretrained)

    if model_config is None or isinstance(model_config, (str, Path)):
        model_cfg = load_model_config(model_config or CATALOG_CLIP)
    else:
        model_cfg = dict(model_config)
    model_cfg["vision_cfg"] = {**model_cfg["vision_cfg"], "image_size": image_size}
    resolved = resolve_config(model_cfg)
    # Same class choice as open_clip.create_model: HF or custom text towers need CustomTextCLIP.
    custom_text = bool(resolved.pop("custom_text", False) or resolved["text_cfg"].get("hf_model_name"))
    model_class = CustomTextCLIP if custom_text else open_clip.CLIP
    if resolved["text_cfg"].get("hf_model_name"):
        resolved["text_cfg"]["hf_model_pretrained"] = True  # the pretrained MiniLM, not a random BERT
    model = model_class(**resolved).to(device)
    open_clip.set_model_preprocess_cfg(model, {**CATALOG_CLIP_PREPROCESS, "size": image_size})
    return model, model_cfg, make_tokenizer(model_cfg), None


def _text_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """Parameters of the text tower, for both CLIP (flat attributes) and CustomTextCLIP (``.text``)."""
    visual = {id(parameter) for parameter in model.visual.parameters()}
    return [
        p
        for name, p in model.named_parameters()
        if id(p) not in visual and name != "logit_scale" and not name.startswith("logit_bias")
    ]


def _select_trainable(model: torch.nn.Module, heads_only: bool) -> list[tuple[str, torch.nn.Parameter]]:
    """The image tower (or only its projection head) plus the logit scale; everything else frozen."""
    selected: list[tuple[str, torch.nn.Parameter]] = []
    for name, parameter in model.visual.named_parameters():
        # Projection heads: ViT "proj", timm "head.*", ModifiedResNet "attnpool.*".
        is_head = name == "proj" or name.startswith(("head.", "attnpool."))
        parameter.requires_grad_(is_head or not heads_only)
        if parameter.requires_grad:
            selected.append((f"visual.{name}", parameter))
    model.logit_scale.requires_grad_(True)
    selected.append(("logit_scale", model.logit_scale))
    if heads_only and len(selected) == 1:
        raise ValueError("train_only_heads=True but this image tower has no recognised projection head.")
    return selected


def _portable_id(model: str, pretrained: str | None) -> str:
    """The base model's id without machine paths: local folders and files are reduced to their names."""
    if model.startswith("local-dir:"):
        return f"local-dir:{Path(model[len('local-dir:') :]).name}"
    if pretrained and Path(pretrained).expanduser().is_file():
        pretrained = Path(pretrained).name
    return f"{model}/{pretrained}" if pretrained else model


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_jsonable(value), indent=2) + "\n"
