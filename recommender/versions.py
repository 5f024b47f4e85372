"""Encoder versions: which one serves, how a new one is built and switched to (blue/green).

    version = serving_version()                 # the active encoder version (or None)
    with one_serving_version():                 # one read for a whole search, however many ask
    version = bootstrap_version()               # active version, created from settings if none
    new = register_encoder_version(spec, name=...)   # READY, vectors not built yet
    start_build(new)                            # BUILDING: embedded beside the active version
    complete_build_if_done(new)                 # switches when every product has a vector

While a version builds, product saves are embedded into both versions, and queries keep using
the active one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recommender.cache import bump_global_generation
from recommender.conf import app_settings
from recommender.models import ModelVersion, ProductVector
from recommender.signals import catalog_indexed, send_logged, version_activating
from recommender.storage import ensure_indexes

logger = logging.getLogger(__name__)

LOCAL_DIR_PREFIX = "local-dir:"
# Keys of the encoder spec that identify the weights; the rest (device, batch size,
# precision) belongs to the machine and is read from settings at load time.
IDENTITY_KEYS = ("MODEL", "PRETRAINED", "BACKEND")


def model_dir() -> Path:
    """Where trained models live (``RECOMMENDER["MODEL_DIR"]``, default ``var/recommender-models``)."""
    configured = app_settings.MODEL_DIR
    if configured:
        return Path(configured)
    base = Path(getattr(settings, "BASE_DIR", Path.cwd()))
    return base / "var" / "recommender-models"


def identity(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an encoder spec that decides the vectors."""
    return {k: spec.get(k) for k in IDENTITY_KEYS if spec.get(k) is not None}


def runtime_spec(config: Mapping[str, Any]) -> dict[str, Any]:
    """A loadable spec: the version's identity plus this machine's device settings.

    ``local-dir:`` paths stored relative to MODEL_DIR are resolved here, so a model folder can
    be moved with its database.
    """
    spec = {**app_settings.ENCODER, **identity(config)}
    for key in IDENTITY_KEYS:
        if key not in config:
            spec.pop(key, None)
    model = spec.get("MODEL", "")
    if model.startswith(LOCAL_DIR_PREFIX):
        path = Path(model[len(LOCAL_DIR_PREFIX) :])
        if not path.is_absolute():
            spec["MODEL"] = LOCAL_DIR_PREFIX + str(model_dir() / path)
    return spec


def encoder_for(version: ModelVersion):
    """The (process-cached) encoder that made, and keeps making, this version's vectors."""
    from recommender.encoders import get_encoder

    return get_encoder(runtime_spec(version.config))


# Set inside one_serving_version(): (the version read at its start,), so None can be pinned too.
_pinned: ContextVar[tuple[ModelVersion | None] | None] = ContextVar("recommender_serving_version", default=None)


def serving_version() -> ModelVersion | None:
    """The encoder version queries use now (public API; ``ModelVersion.objects.active()``)."""
    pinned = _pinned.get()
    if pinned is not None:
        return pinned[0]
    return ModelVersion.objects.active(ModelVersion.Kind.ENCODER)


def serving_versions() -> tuple[ModelVersion | None, ModelVersion | None]:
    """(encoder, behaviour model) that serve now, read in one query (the encoder pinned by
    :func:`one_serving_version` when inside one)."""
    active = ModelVersion.objects.active_by_kind()
    pinned = _pinned.get()
    encoder = pinned[0] if pinned is not None else active.get(ModelVersion.Kind.ENCODER)
    return encoder, active.get(ModelVersion.Kind.BEHAVIOUR)


@contextmanager
def one_serving_version() -> Iterator[ModelVersion | None]:
    """Inside the block, ``serving_version()`` answers the version read once at its start.

    A search asks for it in several layers (retrieval, spelling, phrases): each read was a
    query (about 1.4 ms with the ORM), and a version activated mid-search could mix two versions'
    results. Nested blocks keep the outer block's version.
    """
    if _pinned.get() is not None:
        yield serving_version()
        return
    version = ModelVersion.objects.active(ModelVersion.Kind.ENCODER)
    token = _pinned.set((version,))
    try:
        yield version
    finally:
        _pinned.reset(token)


def register_encoder_version(
    spec: Mapping[str, Any],
    *,
    name: str = "",
    metrics: dict | None = None,
    artifact: str = "",
    version: ModelVersion | None = None,
) -> ModelVersion:
    """A READY version for ``spec`` (filling ``version`` when given, e.g. the row a training run
    created as TRAINING); loads the encoder once to learn its dimension."""
    from recommender.encoders import get_encoder

    config = identity(spec)
    encoder = get_encoder(runtime_spec(config))
    version = version or ModelVersion(kind=ModelVersion.Kind.ENCODER)
    version.name = name or version.name or _default_name(config)
    version.config = {**config, "encoder_version": encoder.version}
    version.dimensions = encoder.dimensions
    version.metrics = metrics if metrics is not None else version.metrics
    version.artifact = artifact or version.artifact
    version.state = ModelVersion.State.READY
    version.progress = 1.0
    version.message = ""
    version.save()
    return version


def _default_name(config: Mapping[str, Any]) -> str:
    model = str(config.get("MODEL", "encoder"))
    pretrained = config.get("PRETRAINED")
    return f"{model} / {pretrained}" if pretrained else model


def bootstrap_version() -> ModelVersion:
    """The active version; on a fresh install, one made from ``RECOMMENDER["ENCODER"]``."""
    version = serving_version()
    if version is not None:
        return version
    version = register_encoder_version(app_settings.ENCODER)
    activate(version)
    return version


def start_build(version: ModelVersion) -> ModelVersion:
    """Mark ``version`` as building: it gets vectors while the active version keeps serving."""
    if version.state == ModelVersion.State.ACTIVE:
        return version
    if serving_version() is None:
        activate(version)  # nothing serves yet: no reason to wait
        return version
    version.state = ModelVersion.State.BUILDING
    version.progress = 0.0
    version.message = "Embedding the catalog; the active version serves until this completes."
    version.save(update_fields=["state", "progress", "message"])
    ensure_indexes(version)
    return version


@transaction.atomic
def activate(version: ModelVersion) -> ModelVersion:
    """Make ``version`` the serving one now (retiring the previous active version)."""
    ModelVersion.objects.select_for_update().filter(kind=version.kind, state=ModelVersion.State.ACTIVE).exclude(
        pk=version.pk
    ).update(state=ModelVersion.State.RETIRED)
    version.state = ModelVersion.State.ACTIVE
    version.activated_at = timezone.now()
    version.progress = 1.0
    version.message = ""
    version.save(update_fields=["state", "activated_at", "progress", "message"])
    if version.kind == ModelVersion.Kind.ENCODER:
        ensure_indexes(version)
        send_logged(catalog_indexed, sender=ModelVersion, version=version)
    # The behaviour model writes its product output vectors (recommender.behaviour.receivers).
    version_activating.send(sender=ModelVersion, version=version)
    transaction.on_commit(bump_global_generation)  # cached results came from the old version
    logger.info("Activated %s", version)
    return version


def build_progress(version: ModelVersion, total_products: int) -> float:
    """Share of the catalog with a finished (ok or failed) row in ``version``."""
    if total_products <= 0:
        return 1.0
    done = ProductVector.objects.filter(version=version).exclude(status=ProductVector.Status.PENDING).count()
    return min(1.0, done / total_products)


def complete_build_if_done(version: ModelVersion, total_products: int) -> bool:
    """Record progress of a building version and switch to it when every product is done."""
    version.refresh_from_db(fields=["state"])
    if version.state != ModelVersion.State.BUILDING:
        return False
    progress = build_progress(version, total_products)
    ModelVersion.objects.filter(pk=version.pk).update(progress=progress)
    if progress < 1.0:
        return False
    activate(version)
    return True
