"""Model configs shipped with the app (open_clip's JSON format) and the catalog CLIP's preprocessing.

Usage::

    from recommender.encoders.configs import CATALOG_CLIP, load_model_config

    cfg = load_model_config(CATALOG_CLIP)       # dict, packaged text tower still as a marker
    register_model_configs()                    # let open_clip.create_model() find them by name

As in open_clip, a config describes only the architecture (``embed_dim``, ``vision_cfg``,
``text_cfg``); preprocessing travels with the weights (``preprocess_cfg`` of a ``local-dir:``
folder). The catalog CLIP's preprocessing is defined here because training writes it there.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

__all__ = [
    "CATALOG_CLIP",
    "CATALOG_CLIP_PREPROCESS",
    "MODEL_CONFIG_DIR",
    "load_model_config",
    "register_model_configs",
]

MODEL_CONFIG_DIR = Path(__file__).resolve().parent / "model_configs"

# resnet18 image tower (random init, 64 px) + the frozen all-MiniLM-L6-v2 text tower, 384-d MiniLM space.
CATALOG_CLIP = "catalog-clip-minilm-rn18"

CATALOG_CLIP_PREPROCESS: dict[str, Any] = {
    # 64 px: a resnet18 at 64 px costs ~1/12 of 224 px, which is what lets a 2-core CPU train on a
    # 6,000-product catalog in minutes; measured there, it beat 96 px at equal training time
    # (more steps matter more than detail). Product photos on plain backgrounds survive it.
    "size": 64,
    # Pad to square instead of centre-cropping (keeps neckline and hem of portrait photos) ...
    "resize_mode": "longest",
    # ... on white, the studio background of most shops.
    "fill_color": 255,
    "interpolation": "bicubic",
    # OpenAI CLIP statistics: open_clip's default, fine for an image tower trained from scratch.
    "mean": [0.48145466, 0.4578275, 0.40821073],
    "std": [0.26862954, 0.26130258, 0.27577711],
}

_registered = False


def load_model_config(name_or_path: str | Path) -> dict[str, Any]:
    """A shipped config by name (``catalog-clip-minilm-rn18``) or any open_clip config JSON by path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = MODEL_CONFIG_DIR / f"{name_or_path}.json"
    with path.open(encoding="utf-8") as handle:
        config = json.load(handle)
    return copy.deepcopy(config.get("model_cfg", config))


def register_model_configs() -> None:
    """Add the shipped configs to open_clip's registry (once per process)."""
    global _registered
    if _registered:
        return
    import open_clip

    open_clip.add_model_config(MODEL_CONFIG_DIR)
    _registered = True
