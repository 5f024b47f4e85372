"""Common English words, which spelling correction never "corrects".

    is_common_english("little")    # True: not turned into "latte" by a coffee-mug catalog
    is_common_english("blak")      # False

A catalog's vocabulary is small: a real word it lacks is often one edit from one it has ("cost"
→ "coat", "wood" → "wool"), and a wrong correction is worse than none (the vector list still
finds what a shopper meant). The list ships with the app (``data/common_english.txt``: 11,074
frequent words from SCOWL's two most common size levels; its header says how it was made), so
nothing is downloaded and every install corrects alike.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from recommender.search.normalize import singular_forms

__all__ = ["common_english_words", "is_common_english"]

WORD_LIST = "common_english.txt"


@lru_cache(maxsize=1)
def common_english_words() -> frozenset[str]:
    """The shipped word list (read once per process)."""
    text = files("recommender.search").joinpath("data", WORD_LIST).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def is_common_english(word: str) -> bool:
    """Whether ``word`` (or its singular) is a common English word."""
    words = common_english_words()
    return any(form in words for form in singular_forms(word))
