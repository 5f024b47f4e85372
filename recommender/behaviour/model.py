"""The next-item model: a small causal transformer (SASRec-like) over item feature vectors.

Input items are ``LayerNorm(adapter(feature) + id_embedding + type_embedding + recency_position)``;
the adapter is an MLP (or linear) over the frozen feature vector (multimodal product vector or
text vector), the ID embedding is optional. Each item's *output vector* is::

    o_i = W x_i + b  (+ e_i, the item's ID embedding, when output_id is "tied")

and the score of item ``i`` for a user state ``h`` is ``cos(h, o_i) / temperature``. Serving stores every product's ``o_i`` in
pgvector under the behaviour version (:mod:`.item_vectors`) and queries them with ``h``: the
cosine order is the model's order. A product the model never saw has ``e_i = 0``: its output
vector comes from its features alone, so new products are recommended from day one.

The one serving module that imports torch: :mod:`.loading` imports it only when a behaviour
model is loaded; training (:mod:`recommender.training.behaviour.fit`) fits it.

Artifacts (``save_artifact``/``load_artifact``): ``config.json`` (hyperparameters and sizes),
``items.json`` (item keys in index order), ``model.pt`` (state dict, no feature matrix).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recommender.behaviour.codes import EVENT_TYPES, PURCHASE

__all__ = ["BehaviourModel", "load_artifact", "pad_left", "save_artifact"]

N_TYPES = len(EVENT_TYPES)  # view, click, add_to_cart, purchase (0 = padding)


class BehaviourModel(nn.Module):
    def __init__(self, features: np.ndarray | torch.Tensor, cfg: dict[str, Any]) -> None:
        super().__init__()
        feats = torch.as_tensor(np.asarray(features), dtype=torch.float32)
        self.n_items, self.feature_dim = int(feats.shape[0]), int(feats.shape[1])
        self.cfg = dict(cfg)
        d = int(cfg["hidden"])
        # Row 0 is padding; kept as a buffer so it follows .to(device) but is not saved.
        self.register_buffer("features", torch.cat([torch.zeros(1, self.feature_dim), feats]), persistent=False)
        self.feature_dropout = nn.Dropout(float(cfg["feature_dropout"]))
        if cfg["adapter"] == "mlp":
            self.in_adapter: nn.Module = nn.Sequential(nn.Linear(self.feature_dim, d), nn.GELU(), nn.Linear(d, d))
        elif cfg["adapter"] == "linear":
            self.in_adapter = nn.Linear(self.feature_dim, d)
        else:
            raise ValueError(f"adapter must be 'mlp' or 'linear', not {cfg['adapter']!r}")
        if cfg.get("output_id") not in ("", None, "tied"):
            raise ValueError(f"output_id must be '' or 'tied', not {cfg['output_id']!r}")
        self.temperature = float(cfg.get("temperature") or 0.0)
        if not self.temperature > 0:
            raise ValueError(
                f"temperature must be positive (items are scored by cosine), not {cfg.get('temperature')!r}"
            )
        if cfg.get("output_id") and not cfg["id_embedding"]:
            raise ValueError("output_id 'tied' needs id_embedding")
        self.item_id = nn.Embedding(self.n_items + 1, d, padding_idx=0) if cfg["id_embedding"] else None
        if self.item_id is not None:
            nn.init.normal_(self.item_id.weight, std=0.02)
            with torch.no_grad():
                self.item_id.weight[0].zero_()
        self.event_type = nn.Embedding(N_TYPES + 1, d, padding_idx=0)
        self.position = nn.Embedding(int(cfg["max_len"]), d)  # distance from the newest event
        self.in_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(float(cfg["dropout"]))
        layer = nn.TransformerEncoderLayer(
            d,
            int(cfg["heads"]),
            dim_feedforward=d * int(cfg["ff_mult"]),
            dropout=float(cfg["dropout"]),
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, int(cfg["layers"]), enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(d)
        # Output vectors: linear in the feature vector, plus the ID embedding (module docstring).
        self.out_adapter = nn.Linear(self.feature_dim, d)

    # -- items -------------------------------------------------------------------------------------

    def item_table(self) -> torch.Tensor:
        """(n_items, hidden) output representations of all items."""
        table = self.out_adapter(self.features[1:])
        if self.output_ids is not None:
            table = table + self.output_ids.weight[1:]
        return table

    @property
    def output_ids(self) -> nn.Embedding | None:
        """The ID embedding the output side adds ("tied": the input's), or None."""
        return self.item_id if self.cfg.get("output_id") == "tied" else None

    def _embed(self, items: torch.Tensor, types: torch.Tensor, feats: torch.Tensor | None) -> torch.Tensor:
        x = self.in_adapter(self.feature_dropout(self.features[items] if feats is None else feats))
        if self.item_id is not None:
            x = x + self.item_id(items)
        x = x + self.event_type(types)
        length = items.shape[1]
        distance = torch.arange(length - 1, -1, -1, device=items.device).clamp(max=self.position.num_embeddings - 1)
        x = x + self.position(distance)[None]
        return self.dropout(self.in_norm(x))

    # -- sequences ---------------------------------------------------------------------------------

    def forward(
        self,
        items: torch.Tensor,
        types: torch.Tensor,
        feats: torch.Tensor | None = None,
        padding: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Hidden states (B, L, hidden) of left-padded (B, L) item indices (1-based; 0 = padding).

        Serving passes the history's feature vectors as ``feats`` (B, L, feature_dim) and an
        explicit ``padding`` mask, so products the model never saw (index 0) still count by
        their features.
        """
        length = items.shape[1]
        heads = int(self.cfg["heads"])
        padding = (items == 0) if padding is None else padding
        causal = torch.ones(length, length, dtype=torch.bool, device=items.device).triu(1)
        mask = causal[None] | padding[:, None, :]
        mask = mask & ~torch.eye(length, dtype=torch.bool, device=items.device)[None]  # no all-masked rows
        mask = mask.repeat_interleave(heads, dim=0)
        h = self.encoder(self._embed(items, types, feats), mask=mask)
        return self.out_norm(h)

    def user_state(self, items: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        """(B, hidden) state after each user's newest event."""
        return self.forward(items, types)[:, -1]

    def scores(self, items: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        """(B, n_items) next-item scores over the whole catalogue."""
        return self.logits(self.user_state(items, types), self.item_table())

    def logits(self, state: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """(B, n) scores of states against item output vectors: cosine / temperature."""
        return F.normalize(state, dim=-1) @ F.normalize(table, dim=-1).T / self.temperature

    def output_vectors(self, features: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(n, hidden) output vectors of products by feature rows and 1-based item indices (0: unseen)."""
        out = self.out_adapter(features)
        if self.output_ids is not None:
            out = out + self.output_ids(items)
        return out


def pad_left(
    sequences: list[list[int]], max_len: int, types: list[list[int]] | None = None, *, purchase: int = PURCHASE
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L) tensors of 1-based item indices and type codes, newest event last, 0 = padding."""
    length = max(1, min(max_len, max((len(s) for s in sequences), default=1)))
    items = torch.zeros(len(sequences), length, dtype=torch.long)
    kinds = torch.zeros(len(sequences), length, dtype=torch.long)
    for row, seq in enumerate(sequences):
        seq = seq[-length:]
        if not seq:
            continue
        items[row, length - len(seq) :] = torch.as_tensor(seq, dtype=torch.long) + 1
        codes = types[row][-length:] if types is not None else [purchase] * len(seq)
        kinds[row, length - len(seq) :] = torch.as_tensor(codes, dtype=torch.long)
    return items, kinds


def save_artifact(model: BehaviourModel, folder: Path, *, item_keys: list[str], extra: dict[str, Any]) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, folder / "model.pt")
    (folder / "items.json").write_text(json.dumps(item_keys))
    config = {"hyperparameters": model.cfg, "n_items": model.n_items, "feature_dim": model.feature_dim, **extra}
    (folder / "config.json").write_text(json.dumps(config, indent=2, default=str))
    return folder


def load_artifact(folder: Path, features: np.ndarray | None = None) -> tuple[BehaviourModel, list[str], dict]:
    """The model in eval mode, its item keys and its config.

    ``features`` is the (n_items, feature_dim) matrix in ``items.json`` order; serving passes
    zeros and fills in the feature rows of the history it reads (only those are looked up).
    """
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    keys = json.loads((folder / "items.json").read_text())
    if features is None:
        features = np.zeros((config["n_items"], config["feature_dim"]), dtype=np.float32)
    model = BehaviourModel(features, config["hyperparameters"])
    model.load_state_dict(torch.load(folder / "model.pt", map_location="cpu", weights_only=True))
    return model.eval(), keys, config
