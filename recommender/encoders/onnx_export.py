"""Export an open_clip model's text side to ONNX, for :class:`~.onnx_text.OnnxTextEncoder` (needs torch).

Usage (in a worker or a management command: it loads the torch model)::

    encoder = OpenClipEncoder("local-dir:var/recommender-models/catalog-clip-…", device="cpu")
    export_text_encoder(encoder, folder)            # text.onnx + tokenizer.json + query_encoder.json

What is exported is the model's own ``encode_text`` (the Hugging Face tower, its pooler and
projection when there is one) in float32, with the batch and token axes dynamic; the vectors are
normalised afterwards exactly as the torch encoder does. Before the folder is accepted the ONNX
vectors of a few probe texts are compared with torch's (cosine >= ``MIN_COSINE``); a failed
export raises and leaves no manifest behind, so a web process never loads a bad graph.

Only towers tokenised by a Hugging Face fast tokenizer are supported (the catalog CLIP's MiniLM,
``hf-hub:`` models with HF text towers); standard CLIP text transformers raise
:class:`UnsupportedTextTower` and keep encoding queries through torch.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from open_clip.hf_model import HFTextEncoder
from open_clip.tokenizer import HFTokenizer, _clean_lower, _clean_whitespace

from .local_dir import _atomic_write
from .onnx_text import FORMAT, MANIFEST_NAME, ONNX_NAME, TOKENIZER_NAME, OnnxTextEncoder
from .open_clip_encoder import OpenClipEncoder

__all__ = ["MIN_COSINE", "UnsupportedTextTower", "export_text_encoder"]

logger = logging.getLogger(__name__)

# Float32 graphs agree with torch to ~1e-6; anything below this is a broken export, not rounding.
MIN_COSINE = 0.999
# Opset 17 has LayerNormalization and is read by every onnxruntime >= 1.14.
OPSET = 17
PROBES = (
    "black summer dress",
    "Jersey top with V-neck &amp; short sleeves",
    "",
    "Ünïcödé kjole, 100 % bomull – størrelse M",
    "trousers " * 400,
)


class UnsupportedTextTower(ValueError):
    """The model's text side cannot be served without torch (it keeps using the torch encoder)."""


class _EncodeText(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(input_ids)


def export_text_encoder(encoder: OpenClipEncoder, folder: str | Path, *, encoder_version: str | None = None) -> Path:
    """Write the ONNX query encoder of ``encoder`` into ``folder``; returns the folder.

    ``encoder_version`` is recorded in the manifest (default ``encoder.version``): the web
    process loads the folder only for the version it was exported from.
    """
    tokenizer = encoder.tokenizer
    text = getattr(encoder.model, "text", None)
    if not isinstance(text, HFTextEncoder) or not isinstance(tokenizer, HFTokenizer):
        raise UnsupportedTextTower(f"{encoder.version}: only Hugging Face text towers can be exported to ONNX.")
    clean = {_clean_whitespace: "whitespace", _clean_lower: "lower"}.get(tokenizer.clean_fn)
    backend = getattr(tokenizer.tokenizer, "backend_tokenizer", None)
    if clean is None or backend is None or tokenizer.tokenizer_mode:
        raise UnsupportedTextTower(f"{encoder.version}: its tokenizer has no torch-free equivalent here.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST_NAME).unlink(missing_ok=True)  # half-written folders are never loaded
    manifest = {
        "format": FORMAT,
        "encoder_version": encoder_version or encoder.version,
        "dimensions": int(encoder.dimensions),
        "context_length": int(tokenizer.context_length),
        "pad_id": int(text.config.pad_token_id),
        "clean": clean,
        "strip_sep_id": int(tokenizer.tokenizer.sep_token_id) if tokenizer.strip_sep_token else None,
        "opset": OPSET,
        "torch": torch.__version__,
    }
    _atomic_write(folder / TOKENIZER_NAME, lambda path: path.write_text(backend.to_str(), encoding="utf-8"))
    _atomic_write(folder / ONNX_NAME, lambda path: _export_graph(encoder, path))
    manifest_text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    _atomic_write(folder / MANIFEST_NAME, lambda path: path.write_text(manifest_text, encoding="utf-8"))
    try:
        _verify(encoder, folder)
    except Exception:
        (folder / MANIFEST_NAME).unlink(missing_ok=True)
        raise
    logger.info("Exported the ONNX query encoder of %s to %s", manifest["encoder_version"], folder)
    return folder


def _export_graph(encoder: OpenClipEncoder, path: Path) -> None:
    was_training = encoder.model.training
    module = _EncodeText(encoder.model.float().cpu()).eval()
    example = encoder.tokenizer(["a short text", "another, slightly longer example text"])[:, :12]
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
            torch.onnx.export(
                module,
                (example,),
                str(path),
                input_names=["input_ids"],
                output_names=["features"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "features": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter: one self-contained file, no onnxscript
            )
    finally:
        encoder.model.to(encoder.device)
        encoder.model.train(was_training)


def _verify(encoder: OpenClipEncoder, folder: Path) -> None:
    """Raise ValueError unless the exported folder gives torch's vectors (cosine >= MIN_COSINE)."""
    exported = OnnxTextEncoder(folder).encode_texts(list(PROBES))
    reference = encoder.encode_texts(list(PROBES))
    cosines = np.sum(exported * reference, axis=1)
    if float(cosines.min()) < MIN_COSINE:
        raise ValueError(f"ONNX export of {encoder.version} disagrees with torch (cosines {cosines.round(5)}).")
