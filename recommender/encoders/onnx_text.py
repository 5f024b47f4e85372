"""A text-only encoder on onnxruntime: query vectors in a web process that never imports torch.

Usage::

    encoder = OnnxTextEncoder("var/recommender-models/catalog-clip-…/query-encoder")
    encoder.encode_texts(["black summer dress"])     # float32 (1, 384), unit rows, = torch's

The folder is written by :func:`recommender.encoders.onnx_export.export_text_encoder` (in a
worker, which has torch): ``text.onnx`` (the model's ``encode_text``: the HF tower and its
projection), ``tokenizer.json`` and ``query_encoder.json`` (the manifest: which encoder version it
was exported from, its dimension and tokenizer settings). The encoder keeps the ``version`` of the
model it came from, so its vectors are queried against that version's stored vectors unchanged.
It encodes no images: image work stays with the torch encoder in workers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from PIL import Image

from .base import Encoder, EncoderLoadError
from .text_tokens import TextTokenizer

__all__ = ["MANIFEST_NAME", "ONNX_NAME", "TOKENIZER_NAME", "OnnxTextEncoder", "read_manifest"]

ONNX_NAME = "text.onnx"
TOKENIZER_NAME = "tokenizer.json"
MANIFEST_NAME = "query_encoder.json"
# Bumped when the folder layout or the graph's inputs change; other formats are not loaded.
FORMAT = 1
# Texts encoded per onnxruntime call (length-sorted, so padding stays small).
BATCH_SIZE = 32


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The folder's manifest; OSError / ValueError when missing, unreadable or of another format."""
    with (Path(folder) / MANIFEST_NAME).open(encoding="utf-8") as handle:
        manifest = json.load(handle)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{Path(folder) / MANIFEST_NAME} is not a format-{FORMAT} query encoder manifest")
    return manifest


class OnnxTextEncoder(Encoder):
    """``encode_texts`` through onnxruntime; same vectors as the torch encoder it was exported from."""

    def __init__(self, folder: str | Path, *, threads: int = 1) -> None:
        folder = Path(folder)
        try:
            manifest = read_manifest(folder)
            self.tokenizer = TextTokenizer.from_file(
                folder / TOKENIZER_NAME,
                context_length=int(manifest["context_length"]),
                pad_id=int(manifest["pad_id"]),
                clean=str(manifest.get("clean", "whitespace")),
                sep_id=manifest.get("strip_sep_id"),
            )
            self.session = _session(folder / ONNX_NAME, threads)
        except Exception as exc:  # any broken file is one clear error for the caller
            raise EncoderLoadError(f"Query encoder in {folder} cannot be loaded: {type(exc).__name__}: {exc}") from exc
        self.folder = folder
        self.version = str(manifest["encoder_version"])
        self.dimensions = int(manifest["dimensions"])
        self._input = self.session.get_inputs()[0].name

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return self.empty()
        limit = self.tokenizer.context_length * 32  # as OpenClipEncoder: bounds tokenizer work only
        cleaned = ["" if text is None else str(text)[:limit] for text in texts]
        order = sorted(range(len(cleaned)), key=lambda index: len(cleaned[index]))
        result = np.empty((len(cleaned), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            ids = self.tokenizer([cleaned[row] for row in rows])
            features = self.session.run(None, {self._input: ids})[0].astype(np.float32)
            norms = np.linalg.norm(features, axis=1, keepdims=True)
            result[rows] = features / np.maximum(norms, 1e-12)  # as torch.nn.functional.normalize
        return result

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        raise NotImplementedError("The ONNX query encoder encodes texts only; images use the torch encoder.")


def _session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    # One thread per web worker (run one worker per core): no thread pool, so a session built
    # before gunicorn forks (--preload) works in every child, and workers do not fight for cores.
    options.intra_op_num_threads = max(int(threads), 1)
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
