"""A behaviour version's product output vectors in pgvector: what "for you" queries with.

    store_item_vectors(version)              # every product with a vector in the encoder version
    store_item_vectors(version, ["sku-1"])   # just these products
    refresh_item_vectors(keys, encoder)      # after the worker embedded products: the active version's rows
    activate_item_vectors(version)           # on activation: its rows and index in, retired ones' out

The model scores product ``i`` by ``cos(h, o_i) / temperature`` (:mod:`.model`), so storing each
``o_i`` as a ``ProductVector`` row under the behaviour version and asking pgvector for the
nearest rows to the user state ``h`` ranks products like the model, with the shop's filters
(stock, category, price) in the same query: the filter fields are copied from the encoder
version's rows (and kept current by :mod:`recommender.product_sync`, which updates every
version's rows of a product). A product the model never saw gets its output vector from its
features alone, so a product added after training is recommendable once it is embedded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np

from recommender.behaviour.loading import load_version
from recommender.models import ModelVersion, ProductVector
from recommender.storage import VectorRow, drop_indexes, ensure_indexes, store_vectors, vector_rows

__all__ = ["activate_item_vectors", "encoder_version_of", "refresh_item_vectors", "store_item_vectors"]

logger = logging.getLogger(__name__)
BATCH = 2000
FILTER_FIELDS = ("title", "category", "price", "in_stock", "sellable")


def encoder_version_of(version: ModelVersion) -> ModelVersion | None:
    """The encoder version whose product vectors the behaviour version was trained on."""
    pk = (version.config or {}).get("encoder_version_id")
    return ModelVersion.objects.filter(pk=pk, kind=ModelVersion.Kind.ENCODER).first() if pk else None


def store_item_vectors(
    version: ModelVersion,
    keys: Iterable[str] | None = None,
    *,
    model: Any = None,
    item_index: dict[str, int] | None = None,
    progress: bool = False,
) -> int:
    """Write the output vectors of ``keys`` (default: every product with a fused vector) under ``version``.

    ``model``/``item_index`` default to the version's saved artifact (training passes the model
    it holds). Returns how many rows were written; builds the version's HNSW index.
    """
    import torch  # only when vectors are written (worker, activation): the web process imports this module
    from tqdm import tqdm

    if model is None or item_index is None:
        loaded = load_version(version)
        model, item_index = loaded.model, loaded.index
    encoder = encoder_version_of(version)
    if encoder is None:
        raise ValueError(f"Behaviour version {version.pk} names no encoder version whose vectors it reads.")
    pending = (
        ProductVector.objects.filter(version=encoder, embedding__isnull=False)
        .order_by("product_key")
        .values_list("product_key", flat=True)
    )
    if keys is not None:
        pending = pending.filter(product_key__in=list(keys))
    written, last = 0, None
    with tqdm(total=pending.count(), disable=not progress, desc="Behaviour item vectors", unit="product") as bar:
        while batch := list((pending if last is None else pending.filter(product_key__gt=last))[:BATCH]):
            last = batch[-1]
            rows = vector_rows(encoder, batch, FILTER_FIELDS)  # key -> (*filter fields, vector)
            batch = [key for key in batch if key in rows]  # a product deleted meanwhile is gone
            if not batch:
                continue
            feats = torch.from_numpy(np.stack([rows[key][-1] for key in batch]))
            items = torch.tensor([item_index.get(key, -1) + 1 for key in batch])  # 0: never seen in training
            with torch.inference_mode():
                out = model.output_vectors(feats, items).float().numpy()
            written += store_vectors(
                version,
                [
                    VectorRow(key, out[i], **dict(zip(FILTER_FIELDS, rows[key][:-1], strict=True)))
                    for i, key in enumerate(batch)
                ],
            )
            bar.update(len(batch))
    ensure_indexes(version, ["embedding"])
    return written


def refresh_item_vectors(keys: Iterable[str], encoder_version: ModelVersion) -> int:
    """The active behaviour version's rows of products just embedded in ``encoder_version``.

    Nothing when no behaviour model is active or it was trained on another encoder version. A
    failure is logged, never raised: the embedding itself succeeded and must not be lost.
    """
    keys = list(keys)
    version = ModelVersion.objects.active(ModelVersion.Kind.BEHAVIOUR)
    if not keys or version is None:
        return 0
    encoder = encoder_version_of(version)
    if encoder is None or encoder.pk != encoder_version.pk:
        return 0
    try:
        return store_item_vectors(version, keys)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        logger.warning("Behaviour item vectors of %s products not updated: %s", len(keys), exc)
        return 0


def activate_item_vectors(
    version: ModelVersion, *, progress: bool = False, model: Any = None, item_index: dict[str, int] | None = None
) -> int:
    """Write ``version``'s rows and index (when missing); drop those of retired behaviour versions.

    Only the active version serves, so only it keeps rows: a version trained without being
    activated, or activated again after it was retired, gets them here. Returns the rows written.
    """
    written = 0
    if not ProductVector.objects.filter(version=version).exists():
        written = store_item_vectors(version, model=model, item_index=item_index, progress=progress)
    ensure_indexes(version, ["embedding"])
    for old in ModelVersion.objects.filter(kind=ModelVersion.Kind.BEHAVIOUR, state=ModelVersion.State.RETIRED):
        if ProductVector.objects.filter(version=old).exists():
            ProductVector.objects.filter(version=old).delete()
            drop_indexes(old)
    return written
