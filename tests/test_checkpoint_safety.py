"""Security finding 10: pickle checkpoints (.bin/.pt/.pth) only on a torch whose weights_only load is safe.

Before torch 2.6, ``torch.load(weights_only=True)`` could run code from a crafted pickle
(CVE-2025-32434). The package requires torch >= 2.6, and the loader refuses a pickle checkpoint
when it finds an older torch anyway. The installed torch is new, so the refusal is exercised
by handing the loader an older version string, not by faking torch.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import open_clip
import pytest
import torch
from safetensors.torch import load_file

from recommender.encoders.base import EncoderLoadError
from recommender.encoders.checkpoints import check_checkpoint, torch_load_is_safe
from recommender.encoders.loading import load_open_clip
from recommender.encoders.local_dir import SAFETENSORS_NAME, TORCH_NAME, find_weights

ROOT = Path(__file__).resolve().parent.parent
MODEL_CONFIGS = Path(__file__).resolve().parent / "model_configs"
CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("version", "safe"),
    [
        ("2.1.0", False),
        ("2.5.1+cu121", False),
        ("2.6.0a0+git1eba9b3", False),
        ("2.6.0rc1", False),
        ("2.6.0", True),
        ("2.6.0+cpu", True),
        ("2.6.1", True),
        ("2.10.0", True),
        ("2.14.1+cu130", True),
        ("3.0", True),
        ("1.13.1", False),
        ("", False),
        ("nightly", False),
    ],
)
def test_torch_load_is_safe_from_2_6(version: str, safe: bool) -> None:
    assert torch_load_is_safe(version) is safe


def test_check_checkpoint_refuses_pickles_on_old_torch() -> None:
    with pytest.raises(EncoderLoadError, match=r"CVE-2025-32434") as caught:
        check_checkpoint("models/clip/open_clip_pytorch_model.bin", setting="PRETRAINED", torch_version="2.5.1")
    message = str(caught.value)
    assert message.startswith("PRETRAINED: refusing to load 'models/clip/open_clip_pytorch_model.bin' with torch 2.5.1")
    assert "Upgrade torch to 2.6" in message
    for name in ("model.pt", "model.pth", "hf-hub:org/repo", "laion2b_s34b_b79k"):
        with pytest.raises(EncoderLoadError):
            check_checkpoint(name, setting="X", torch_version="2.4.0")
    check_checkpoint("models/clip/open_clip_model.safetensors", setting="X", torch_version="2.1.0")  # tensors only
    check_checkpoint("models/clip/open_clip_pytorch_model.bin", setting="X", torch_version="2.6.0")
    check_checkpoint("models/clip/open_clip_pytorch_model.bin", setting="X")  # the installed torch


def test_the_package_requires_a_safe_torch() -> None:
    clip = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["clip"]
    pinned = (re.fullmatch(r"([A-Za-z0-9_.-]+)>=([\d.]+)", requirement.split(";")[0]) for requirement in clip)
    floors = dict(
        match.groups() for match in pinned if match
    )  # extras such as "django-recommender[query]" name no floor
    assert torch_load_is_safe(floors["torch"])
    assert tuple(int(part) for part in floors["torchvision"].split(".")) >= (0, 21)  # torch 2.6's torchvision
    assert torch_load_is_safe(torch.__version__)


@pytest.fixture
def pickle_model_dir(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """The tiny local-dir model with its weights as a torch pickle (.bin) instead of safetensors."""
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    torch.save(load_file(str(folder / SAFETENSORS_NAME)), folder / TORCH_NAME)
    (folder / SAFETENSORS_NAME).unlink()
    assert find_weights(folder) == folder / TORCH_NAME
    return folder


def test_the_loader_refuses_a_pickle_checkpoint_on_old_torch(pickle_model_dir: Path) -> None:
    open_clip.add_model_config(MODEL_CONFIGS)
    with pytest.raises(EncoderLoadError, match=r"^RECOMMENDER\["):
        load_open_clip(f"local-dir:{pickle_model_dir}", None, device=CPU, torch_version="2.5.1")
    with pytest.raises(EncoderLoadError, match=r"open_clip_pytorch_model\.bin' with torch 2\.3\.0"):
        load_open_clip("tiny-catalog-clip", str(pickle_model_dir / TORCH_NAME), device=CPU, torch_version="2.3.0")
    with pytest.raises(EncoderLoadError, match=r"'hf-hub:org/model' with torch 2\.5\.1"):
        load_open_clip("hf-hub:org/model", None, device=CPU, torch_version="2.5.1")  # refused before any download

    # The same folder loads on this (safe) torch, as before.
    loaded = load_open_clip(f"local-dir:{pickle_model_dir}", None, device=CPU)
    assert loaded.version.startswith("local-dir:pickled@")
