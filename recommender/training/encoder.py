"""Train the catalog CLIP on the shop's own products and register it as a model version.

    version = train_encoder(epochs=8)            # pairs from the catalog adapter
    start_build(version)                          # embed beside the active version, then switch

The training itself is :mod:`recommender.training.catalog_clip` (torch); this module only
connects it to the catalog, MODEL_DIR and the model-version registry. Imported by the
``recommender_train_encoder`` command and the ``recommender.train_encoder`` task only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender.catalog import get_adapter
from recommender.models import ModelVersion
from recommender.query_encoders import export_query_encoder
from recommender.training.catalog_clip import train_catalog_clip
from recommender.versions import LOCAL_DIR_PREFIX, model_dir, register_encoder_version

logger = logging.getLogger(__name__)


def catalog_pairs(limit: int | None = None) -> list[tuple[str, Any, str]]:
    """(key, image source, text) of every product that has an image and some text."""
    adapter = get_adapter()
    pairs = []
    for product in adapter.get_queryset().order_by("pk").iterator(chunk_size=500):
        image, text = adapter.image(product), adapter.document(product)
        if image is not None and text:
            pairs.append((adapter.key(product), image, text))
            if limit and len(pairs) >= limit:
                break
    return pairs


def train_encoder(
    *,
    name: str = "",
    base_model: Mapping[str, Any] | None = None,
    limit: int | None = None,
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    **training: Any,
) -> ModelVersion:
    """Train on the catalog, save under MODEL_DIR, register a READY encoder version.

    ``training`` goes to :func:`recommender.training.catalog_clip.train_catalog_clip` (epochs,
    batch_size, lr, image_size, seed, val_fraction, train_only_heads, device, model_config).
    """
    pairs = catalog_pairs(limit)
    if len(pairs) < 10:
        raise ValueError(f"Only {len(pairs)} products have both an image and a text; at least 10 are needed to train.")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    folder_name = f"catalog-clip-{stamp}" if base_model is None else f"finetuned-{stamp}"
    output = model_dir() / folder_name
    # The row exists from the start, so the admin shows the run and its progress.
    version = ModelVersion.objects.create(
        kind=ModelVersion.Kind.ENCODER,
        name=name or folder_name,
        state=ModelVersion.State.TRAINING,
        artifact=folder_name,
        message=f"Training on {len(pairs)} products.",
    )
    epochs = max(int(training.get("epochs", 5)), 1)

    def report(metrics: dict[str, Any]) -> None:
        ModelVersion.objects.filter(pk=version.pk).update(
            progress=min(float(metrics.get("epoch", 0)) / epochs, 0.99), metrics={"last_epoch": metrics}
        )
        if on_epoch is not None:
            on_epoch(metrics)

    try:
        result = train_catalog_clip(
            pairs, output, base_model=base_model, progress=progress, on_epoch=report, **training
        )
    except Exception as exc:
        ModelVersion.objects.filter(pk=version.pk).update(
            state=ModelVersion.State.FAILED, message=f"Training failed: {exc}"
        )
        raise
    metrics = {
        "final": result.final_metrics,
        "history": result.history,
        "train_seconds": round(result.train_seconds, 1),
        "n_train": result.n_train,
        "n_val": result.n_val,
        "skipped_images": len(result.skipped),
        "plot": str(result.plot_path.relative_to(model_dir())) if result.plot_path else "",
    }
    # Stored relative to MODEL_DIR, so the database and the model folder can move together.
    spec = {"MODEL": f"{LOCAL_DIR_PREFIX}{folder_name}"}
    version = register_encoder_version(spec, metrics=metrics, artifact=folder_name, version=version)
    logger.info("Trained %s: %s", version, result.final_metrics)
    try:  # web processes encode queries with it, without torch (recommender.query_encoders)
        export_query_encoder(version)
    except Exception as exc:  # noqa: BLE001 - the model is good; queries then use torch (warned)
        logger.warning("No ONNX query encoder for %s: %s: %s", version, type(exc).__name__, exc)
    return version


def artifact_path(version: ModelVersion) -> Path:
    return model_dir() / version.artifact
