"""Event types as the behaviour model's input codes, shared by training and serving.

    EVENT_TYPES["add_to_cart"]     # 3: the type embedding a history event gets (0 is padding)

No Django, torch or numpy here: the web process imports it.
"""

from __future__ import annotations

__all__ = ["EVENT_TYPES", "PURCHASE"]

# Event types as model inputs (0 is padding). Benchmarks have purchases only. Saved models depend
# on these numbers: change them only with a new artifact format.
EVENT_TYPES: dict[str, int] = {"view": 1, "click": 2, "add_to_cart": 3, "purchase": 4}
PURCHASE = EVENT_TYPES["purchase"]
