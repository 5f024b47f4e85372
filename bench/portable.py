"""Recorded results name no path of the machine that ran them (profiles, trees compared)."""

from __future__ import annotations

import re
import site
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def portable(text: str) -> str:
    """``text`` with site-packages folders as ``<site-packages>/`` and checkouts as ``<checkout>/``."""
    for folder in sorted({*site.getsitepackages(), site.getusersitepackages()}, key=len, reverse=True):
        text = text.replace(folder.rstrip("/") + "/", "<site-packages>/")
    text = text.replace(str(ROOT) + "/", "")
    text = re.sub(r"(?<![\w<])/(?:work|tmp|home|root)/[^\s\"',():]+", "<checkout>", text)
    return text.replace(sys.prefix + "/", "<python>/")
