"""The embedding pipeline: products -> image, text and fused vectors in pgvector.

    embed_products(["42", "43"])          # the maintained versions (active + building)
    reindex(progress=True)                # the whole catalog, in batches, resumable
    embed_pending()                       # catch up rows queued while the broker was down

Idempotent by construction: a row is skipped when its content hash (text, image identity,
fusion weight) is unchanged and it is already ok, and writes are upserts on
(version, product). A batch interrupted at any point can simply run again.

Announces its work with ``recommender.signals``: ``products_indexed`` after each stored batch,
``catalog_indexed`` when a synchronous reindex of the serving version is done (search builds
its spelling vocabulary and suggestions from them, in ``recommender/receivers.py``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.db import models
from django.utils import timezone

from recommender.catalog import get_adapter
from recommender.conf import app_settings
from recommender.models import ModelVersion, ProductVector, RecommenderSettings
from recommender.product_sync import forget_cached_results, sync_product_fields
from recommender.signals import catalog_indexed, embedding_requested, products_indexed, send_logged
from recommender.storage import VectorRow, delete_product_vectors, ensure_indexes, store_vectors
from recommender.versions import (
    activate,
    bootstrap_version,
    build_progress,
    complete_build_if_done,
    encoder_for,
    start_build,
)

logger = logging.getLogger(__name__)


@dataclass
class EmbedReport:
    """What one call did, for logs, progress bars and tests."""

    embedded: int = 0
    skipped: int = 0
    failed: int = 0
    removed: int = 0
    image_errors: dict[str, str] = field(default_factory=dict)

    def add(self, other: EmbedReport) -> None:
        self.embedded += other.embedded
        self.skipped += other.skipped
        self.failed += other.failed
        self.removed += other.removed
        self.image_errors.update(other.image_errors)


def image_fingerprint(source: Any) -> str:
    """Identity of an image source without reading its pixels (name, size, mtime)."""
    if source is None:
        return ""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return hashlib.sha1(bytes(source)).hexdigest()
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            st = path.stat()
        except OSError:
            return f"{path}:missing"
        return f"{path}:{st.st_size}:{int(st.st_mtime)}"
    name = getattr(source, "name", "") or ""
    try:
        size = source.size  # FieldFile: asks its storage
    except Exception:  # noqa: BLE001 - a missing file still has a name; loading reports the error
        size = "missing"
    return f"{name}:{size}"


def content_hash(document: str, image_identity: str, image_weight: float) -> str:
    payload = f"{document}\0{image_identity}\0{image_weight:.4f}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def fuse(image_vector: np.ndarray | None, text_vector: np.ndarray | None, image_weight: float) -> np.ndarray | None:
    """Weighted blend of unit image and text vectors, renormalised; either alone when the other is missing."""
    if image_vector is None:
        return text_vector
    if text_vector is None:
        return image_vector
    return _normalise(image_weight * image_vector + (1.0 - image_weight) * text_vector)


@dataclass
class _Item:
    product: models.Model
    key: str
    document: str
    image: Any
    hash: str


def embed_products(
    keys: Sequence[str], versions: Iterable[ModelVersion] | None = None, *, force: bool = False
) -> EmbedReport:
    """(Re-)embed these products into each maintained version; unknown keys lose their vectors."""
    # A key with a NUL character names no product and cannot even be looked up in Postgres: dropped.
    keys = list(dict.fromkeys(k for k in (str(k) for k in keys) if "\x00" not in k))
    versions = list(versions) if versions is not None else ModelVersion.objects.maintained()
    report = EmbedReport()
    adapter = get_adapter()
    products = adapter.products_by_keys(keys)
    found = {adapter.key(p) for p in products}
    gone = [k for k in keys if k not in found]
    if gone:
        report.removed = delete_product_vectors(gone)
    if not products or not versions:
        return report
    image_weight = RecommenderSettings.get().image_weight
    items = []
    for product in products:
        document = _text(adapter.document(product))
        image = adapter.image(product)
        items.append(
            _Item(
                product,
                adapter.key(product),
                document,
                image,
                content_hash(document, image_fingerprint(image), image_weight),
            )
        )
    for version in versions:
        report.add(_embed_into(version, items, image_weight, force=force))
    # A product deleted while this batch was embedded: its delete receiver may have run before
    # the rows above were written. Checked after every write, so no such row outlives the batch.
    deleted = found - {adapter.key(p) for p in adapter.products_by_keys(sorted(found))}
    if deleted:
        report.removed += delete_product_vectors(deleted)
    return report


def _text(value: str) -> str:
    """Text as Postgres can store it: a host's adapter may hand over NUL characters."""
    return value.replace("\x00", " ") if "\x00" in value else value


def _has_text(document: str) -> bool:
    """Whether ``document`` says anything: letters, digits or symbols (emoji), not only the
    punctuation and spaces ``TEXT_TEMPLATE`` leaves when every field is empty (". .")."""
    return any(unicodedata.category(ch)[0] in "LNS" for ch in document)


def _embed_into(version: ModelVersion, items: list[_Item], image_weight: float, *, force: bool) -> EmbedReport:
    report = EmbedReport()
    adapter = get_adapter()
    current = dict(
        ProductVector.objects.filter(
            version=version, product_key__in=[i.key for i in items], status=ProductVector.Status.OK
        ).values_list("product_key", "content_hash")
    )
    todo = [i for i in items if force or current.get(i.key) != i.hash]
    todo_keys = {i.key for i in todo}
    unchanged = [i for i in items if i.key not in todo_keys]
    report.skipped = len(unchanged)
    if unchanged:
        # Texts and images are the same, but stock or price may not be.
        sync_product_fields([i.key for i in unchanged])
    if not todo:
        return report

    from recommender.images import MAX_WORKING_SIDE, ImageLoadError, load_image

    encoder = encoder_for(version)
    # A JPEG decoded at 4x the model's input keeps the detail its antialiased resize averages over.
    image_side = getattr(encoder, "image_side", None)
    draft_side = 4 * int(image_side) if app_settings.IMAGE_DRAFT_DECODE and image_side else None
    sellable = adapter.sellable_keys([i.key for i in todo])
    images, image_owner, errors = [], [], {}
    for index, item in enumerate(todo):
        if item.image is None or not encoder.encodes_images:
            continue
        try:
            images.append(
                load_image(
                    item.image,
                    max_pixels=app_settings.MAX_IMAGE_PIXELS,
                    max_aspect_ratio=app_settings.MAX_IMAGE_ASPECT_RATIO,
                    max_side=MAX_WORKING_SIDE,
                    draft_side=draft_side,
                )
            )
            image_owner.append(index)
        except ImageLoadError as exc:
            errors[item.key] = f"image: {exc.reason}"
        except Exception as exc:  # noqa: BLE001 - storage backends raise anything; the text still counts
            errors[item.key] = f"image: {type(exc).__name__}: {exc}"
    texts_present = [index for index, item in enumerate(todo) if _has_text(item.document)]
    text_vecs = encoder.encode_texts([todo[i].document for i in texts_present]) if texts_present else None
    image_vecs = encoder.encode_images(images) if images else None
    text_by_index = dict(zip(texts_present, text_vecs, strict=True)) if text_vecs is not None else {}
    image_by_index = dict(zip(image_owner, image_vecs, strict=True)) if image_vecs is not None else {}

    rows = []
    for index, item in enumerate(todo):
        text_vec, image_vec = text_by_index.get(index), image_by_index.get(index)
        fused = fuse(image_vec, text_vec, image_weight)
        error = errors.get(item.key, "")
        status = ProductVector.Status.OK
        if fused is None:
            status = ProductVector.Status.FAILED
            error = "; ".join(e for e in (error, "no text and no usable image") if e)
            report.failed += 1
        else:
            report.embedded += 1
        rows.append(
            VectorRow(
                key=item.key,
                embedding=fused,
                image_embedding=image_vec,
                text_embedding=text_vec,
                content_hash=item.hash,
                status=status,
                error=error,
                title=_text(adapter.title(item.product)),
                document=item.document,
                category=_text(adapter.category(item.product)),
                price=adapter.price(item.product),
                in_stock=adapter.in_stock(item.product),
                sellable=item.key in sellable,
            )
        )
    store_vectors(version, rows)
    send_logged(products_indexed, sender=ModelVersion, version=version, keys=[r.key for r in rows])
    # A re-embedded product changed its text or image, which rendered slots show (and maybe its
    # category, stock or price): cached results and rendered slots go.
    forget_cached_results()
    if version.state == ModelVersion.State.ACTIVE:
        from recommender.behaviour.item_vectors import refresh_item_vectors

        refresh_item_vectors([r.key for r in rows if r.embedding is not None], version)
    report.image_errors.update(errors)
    if version.state == ModelVersion.State.BUILDING:
        complete_build_if_done(version, adapter.get_queryset().count())
    return report


def catalog_keys() -> list[str]:
    """Every product key of the host's catalog, in primary-key order (stable batches)."""
    adapter = get_adapter()
    return [str(pk) for pk in adapter.get_queryset().order_by("pk").values_list("pk", flat=True)]


def batched(keys: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(keys), size):
        yield list(keys[start : start + size])


@dataclass
class ReindexReport(EmbedReport):
    batches: int = 0
    queued: int = 0


def reindex(
    version: ModelVersion | None = None,
    *,
    force: bool = False,
    batch_size: int | None = None,
    run_async: bool = False,
    progress: bool = False,
) -> ReindexReport:
    """Embed the whole catalog into ``version`` (default: the active one, created if none).

    Resumable: rows already embedded with the same content are skipped. With ``run_async``
    the batches go to the embeddings queue instead of running here.
    """
    version = version or bootstrap_version()
    serving = version.state == ModelVersion.State.ACTIVE  # else activation announces the catalog
    ensure_indexes(version)  # e.g. the halfvec indexes after HNSW_HALFVEC was switched on
    batch_size = batch_size or app_settings.EMBED_BATCH_SIZE
    keys = catalog_keys()
    report = ReindexReport()
    stale = ProductVector.objects.filter(version=version).exclude(product_key__in=keys)
    report.removed, _ = stale.delete()
    batches = list(batched(keys, batch_size))
    report.batches = len(batches)
    if run_async:
        for batch in batches:
            request_embedding(batch, version_ids=[version.pk], force=force)
            report.queued += len(batch)
        return report
    bar = _progress_bar(len(keys), enabled=progress, desc=f"Embedding into {version.name}")
    for batch in batches:
        report.add(embed_products(batch, [version], force=force))
        bar.update(len(batch))
        bar.set_postfix(embedded=report.embedded, skipped=report.skipped, failed=report.failed)
    bar.close()
    if version.state == ModelVersion.State.BUILDING:
        complete_build_if_done(version, len(keys))
    if serving:
        send_logged(catalog_indexed, sender=ModelVersion, version=version)
    return report


def switch_or_build(version: ModelVersion) -> bool:
    """Make encoder ``version`` serve: at once when every product already has its finished row
    (or nothing serves yet), else mark it building so it switches when complete. Returns whether
    it serves now. The one activate-or-build decision the admin, the commands and the tasks share;
    follow it with :func:`reindex` (products changed since its vectors were made re-embed).
    """
    if version.state == ModelVersion.State.ACTIVE:
        return True
    complete = version.state != ModelVersion.State.BUILDING and build_progress(version, len(catalog_keys())) >= 1.0
    if complete:
        activate(version)
    else:
        start_build(version)
        version.refresh_from_db(fields=["state"])
    return version.state == ModelVersion.State.ACTIVE


def build_and_switch(version: ModelVersion, *, run_async: bool = False, progress: bool = False) -> ReindexReport:
    """:func:`switch_or_build`, then embed the catalog into ``version`` (in the workers with
    ``run_async``): the blue/green path of ``recommender_train_encoder --activate`` and of the
    ``recommender.train_encoder`` task."""
    switch_or_build(version)
    return reindex(version, run_async=run_async, progress=progress)


def request_embedding(keys: Sequence[str], *, version_ids: list[int] | None = None, force: bool = False) -> None:
    """Ask the workers to embed ``keys`` (``signals.embedding_requested``; the receiver queues
    the task). With nobody listening the rows are marked pending, so no request is lost."""
    answers = embedding_requested.send(sender=ModelVersion, keys=list(keys), version_ids=version_ids, force=force)
    if not answers:
        mark_pending(keys, version_ids)


def mark_pending(keys: Sequence[str], version_ids: list[int] | None = None) -> None:
    """Record that these products need (re-)embedding, without touching their current vectors."""
    versions = [v for v in ModelVersion.objects.maintained() if not version_ids or v.pk in version_ids]
    now = timezone.now()
    for version in versions:
        existing = set(
            ProductVector.objects.filter(version=version, product_key__in=keys).values_list("product_key", flat=True)
        )
        ProductVector.objects.filter(version=version, product_key__in=existing).update(
            status=ProductVector.Status.PENDING, updated_at=now
        )
        ProductVector.objects.bulk_create(
            [
                ProductVector(version=version, product_key=k, status=ProductVector.Status.PENDING)
                for k in keys
                if k not in existing
            ],
            ignore_conflicts=True,
        )


def embed_pending(limit: int = 1000) -> EmbedReport:
    """Embed rows marked pending (queued while no broker could take them)."""
    report = EmbedReport()
    for version in ModelVersion.objects.maintained():
        keys = list(
            ProductVector.objects.filter(version=version, status=ProductVector.Status.PENDING)
            .order_by("updated_at")
            .values_list("product_key", flat=True)[:limit]
        )
        for batch in batched(keys, app_settings.EMBED_BATCH_SIZE):
            report.add(embed_products(batch, [version], force=True))
    return report


def _progress_bar(total: int, *, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="product")
