"""open_clip ``local-dir:`` folders: write them, read their config, fingerprint their content.

Usage::

    save_local_dir(model, "var/models/catalog-clip", model_cfg=cfg, preprocess_cfg=pp)
    encoder = OpenClipEncoder("local-dir:var/models/catalog-clip")

A folder holds ``open_clip_config.json`` (``{"model_cfg": ..., "preprocess_cfg": ...}``, the
layout open_clip's ``create_model("local-dir:...")`` and ``push_to_hf_hub`` use) and the full
state dict, as safetensors when the package is installed. The config is made portable first
(:func:`recommender.encoders.packaged.portable_config`): no machine path is ever written.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .packaged import find_machine_paths, portable_config

__all__ = [
    "CONFIG_NAME",
    "find_weights",
    "fingerprint",
    "local_dir_version",
    "read_local_dir_config",
    "save_local_dir",
]

CONFIG_NAME = "open_clip_config.json"
# The first names in open_clip's preferred checkpoint order, so its own loader picks them too.
SAFETENSORS_NAME = "open_clip_model.safetensors"
TORCH_NAME = "open_clip_pytorch_model.bin"
_WEIGHT_NAMES = (SAFETENSORS_NAME, "open_clip_pytorch_model.safetensors", TORCH_NAME, "open_clip_pytorch_model.pth")


def save_local_dir(
    model: torch.nn.Module,
    directory: str | os.PathLike[str],
    *,
    model_cfg: Mapping[str, Any],
    preprocess_cfg: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` as a ``local-dir:`` folder; ``extra`` goes under the config's "recommender" key."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {"model_cfg": portable_config(model_cfg), "preprocess_cfg": dict(preprocess_cfg)}
    if extra:
        config["recommender"] = dict(extra)
    leaks = find_machine_paths(config)
    if leaks:
        raise ValueError(f"Refusing to save a config that contains machine paths: {leaks}")

    # clone(): safetensors refuses tensors that share storage (tied weights).
    state = {name: tensor.detach().to("cpu").clone().contiguous() for name, tensor in model.state_dict().items()}
    try:
        from safetensors.torch import save_file
    except ImportError:
        weights_name = TORCH_NAME
        _atomic_write(directory / weights_name, lambda path: torch.save(state, path))
    else:
        weights_name = SAFETENSORS_NAME
        _atomic_write(directory / weights_name, lambda path: save_file(state, str(path)))
    for stale in _WEIGHT_NAMES:
        if stale != weights_name:
            (directory / stale).unlink(missing_ok=True)
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    _atomic_write(directory / CONFIG_NAME, lambda path: path.write_text(text, encoding="utf-8"))
    return directory


def read_local_dir_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The folder's whole ``open_clip_config.json``; OSError / ValueError when missing or malformed."""
    path = Path(directory) / CONFIG_NAME
    with path.open(encoding="utf-8") as handle:
        config = json.load(handle)
    if not isinstance(config, dict) or "model_cfg" not in config:
        raise ValueError(f"{path} has no 'model_cfg' key")
    return config


def find_weights(directory: str | os.PathLike[str]) -> Path | None:
    """The checkpoint open_clip would load from the folder (same preference order), or None."""
    directory = Path(directory)
    for name in _WEIGHT_NAMES + ("model.safetensors", "pytorch_model.bin", "pytorch_model.pth", "model.pth"):
        if (directory / name).is_file():
            return directory / name
    candidates = (
        sorted(directory.glob("*.safetensors")) + sorted(directory.glob("*.bin")) + sorted(directory.glob("*.pth"))
    )
    return candidates[0] if candidates else None


def fingerprint(*paths: str | os.PathLike[str]) -> str:
    """First 12 hex digits of the SHA-256 over the files' bytes: changes whenever vectors may change."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:12]


def local_dir_version(directory: str | os.PathLike[str]) -> str:
    """``local-dir:<folder name>@<content hash>``: stable across machines, new after retraining."""
    directory = Path(directory)
    weights = find_weights(directory)
    files = [directory / CONFIG_NAME] + ([weights] if weights else [])
    return f"local-dir:{directory.resolve().name}@{fingerprint(*files)}"


def _atomic_write(target: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, so readers never see half a file.

    The temporary name is made by hand (not mkstemp) so the file gets the umask's permissions:
    web and Celery workers running as another user must be able to read the model.
    """
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
