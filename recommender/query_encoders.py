"""Query encoders: search queries encoded without torch (ONNX), beside the version's weights.

Usage::

    encoder = query_encoder_for(version)      # ONNX when exported, else the torch encoder (warned)
    encoder.encode_texts(["black dress"])      # the same vectors the version's products were matched with
    export_query_encoder(version)             # in a worker or command (needs torch); idempotent
    preload_query_encoder()                   # at web-worker boot (RECOMMENDER["PRELOAD_QUERY_ENCODER"])

Why: loading torch and open_clip to encode one query cost a web process 14 s and ~900 MB. The
text tower is exported once to ONNX (``text.onnx`` + ``tokenizer.json`` + a manifest naming the
encoder version) into ``<local-dir model>/query-encoder/``, or ``MODEL_DIR/query-encoders/<version>/``
for models without a folder of their own, and run with onnxruntime. The version and its stored
vectors do not change, so nothing is re-indexed. Whatever is missing or broken (no export yet,
onnxruntime not installed, a corrupt file, an export of other weights) falls back to the torch
encoder with a logged warning, and search keeps serving.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from django.db import connections

from recommender.conf import app_settings
from recommender.encoders import Encoder, EncoderLoadError
from recommender.models import ModelVersion
from recommender.versions import LOCAL_DIR_PREFIX, encoder_for, model_dir, runtime_spec, serving_version

__all__ = [
    "QUERY_ENCODER_FOLDER",
    "RUNTIMES",
    "clear_query_encoders",
    "export_query_encoder",
    "preload_query_encoder",
    "query_encoder_dir",
    "query_encoder_for",
]

logger = logging.getLogger(__name__)

QUERY_ENCODER_FOLDER = "query-encoder"
RUNTIMES = ("onnx", "torch")
_loaded: dict[tuple[str, str, int], Encoder] = {}
_warned: set[tuple[int, str]] = set()
_lock = threading.Lock()


def query_encoder_dir(version: ModelVersion) -> Path:
    """Where ``version``'s ONNX query encoder lives (whether or not it was exported yet)."""
    model = str(runtime_spec(version.config).get("MODEL", ""))
    if model.startswith(LOCAL_DIR_PREFIX):
        return Path(model[len(LOCAL_DIR_PREFIX) :]) / QUERY_ENCODER_FOLDER
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", _encoder_version(version)).strip("._") or f"version-{version.pk}"
    return model_dir() / "query-encoders" / name


def query_encoder_for(version: ModelVersion) -> Encoder:
    """The encoder that turns search queries into ``version``'s vectors: ONNX when it can, else torch."""
    runtime = app_settings.QUERY_ENCODER
    if runtime == "onnx":
        encoder = _onnx_encoder(version)
        if encoder is not None:
            return encoder
    return encoder_for(version)


def export_query_encoder(version: ModelVersion, *, force: bool = False) -> Path | None:
    """Export ``version``'s text side to ONNX (loads the torch encoder); None when it cannot be.

    Skipped when a matching export is already there (unless ``force``). Standard CLIP text towers
    are not exported: their queries keep being encoded by torch.
    """
    from recommender.encoders.onnx_export import UnsupportedTextTower, export_text_encoder
    from recommender.encoders.onnx_text import read_manifest

    folder = query_encoder_dir(version)
    expected = _encoder_version(version)
    if not force:
        try:
            if read_manifest(folder).get("encoder_version") == expected:
                return folder
        except (OSError, ValueError):
            pass
    try:
        return export_text_encoder(encoder_for(version), folder, encoder_version=expected)
    except UnsupportedTextTower as exc:
        logger.info("No ONNX query encoder for %s: %s", version, exc)
        return None


def preload_query_encoder() -> Encoder | None:
    """Load the serving version's query encoder now and encode one text, so the first shopper's
    search does not pay for it; does nothing when ``PRELOAD_QUERY_ENCODER`` is off.

    Call it from the web server's entry point (``wsgi.py`` / ``asgi.py``), after
    ``get_wsgi_application()``. Under ``gunicorn --preload`` it runs once in the master and the
    workers share the model's memory copy-on-write. It closes the database connections it opened,
    which must not be shared with forked workers. Never raises: a web worker boots regardless.
    """
    if not app_settings.PRELOAD_QUERY_ENCODER:
        return None
    try:
        version = serving_version()
        if version is None:
            return None
        encoder = query_encoder_for(version)
        encoder.encode_texts(["warm up"])  # first run allocates onnxruntime's buffers
        logger.info("Preloaded the query encoder of %s (%s)", version, type(encoder).__name__)
        return encoder
    except Exception as exc:  # noqa: BLE001 - a missing table or model must not stop the server booting
        logger.warning("Query encoder not preloaded: %s: %s", type(exc).__name__, exc)
        return None
    finally:
        connections.close_all()


def clear_query_encoders() -> None:
    """Forget loaded ONNX query encoders (tests, model switches)."""
    with _lock:
        _loaded.clear()
        _warned.clear()


def _onnx_encoder(version: ModelVersion) -> Encoder | None:
    folder = query_encoder_dir(version)
    expected = _encoder_version(version)
    threads = int(app_settings.QUERY_ENCODER_THREADS)
    key = (str(folder), expected, threads)
    encoder = _loaded.get(key)
    if encoder is not None:
        return encoder
    with _lock:
        encoder = _loaded.get(key)
        if encoder is not None:
            return encoder
        try:
            encoder = _load_onnx(folder, expected, threads)
        except (EncoderLoadError, ImportError) as exc:
            _warn_once(version, f"{exc}")
            return None
        _loaded[key] = encoder
    return encoder


def _load_onnx(folder: Path, expected: str, threads: int) -> Encoder:
    from recommender.encoders.onnx_text import OnnxTextEncoder, read_manifest

    try:
        exported = read_manifest(folder).get("encoder_version")
    except (OSError, ValueError) as exc:
        raise EncoderLoadError(
            f"no ONNX query encoder in {folder} ({exc}); run `manage.py recommender_export_query_encoder`"
        ) from exc
    if exported != expected:
        raise EncoderLoadError(
            f"the ONNX query encoder in {folder} was exported from {exported!r}, not {expected!r}; "
            "run `manage.py recommender_export_query_encoder --force`"
        )
    return OnnxTextEncoder(folder, threads=threads)


def _warn_once(version: ModelVersion, reason: str) -> None:
    key = (int(version.pk or 0), reason)
    if key in _warned:
        return
    _warned.add(key)
    logger.warning("Search queries of %s are encoded with torch: %s", version, reason)


def _encoder_version(version: ModelVersion) -> str:
    return str((version.config or {}).get("encoder_version") or f"version-{version.pk}")
