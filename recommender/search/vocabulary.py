"""The spelling vocabulary's generation: cached corrections belong to one vocabulary.

    vocabulary_changed()          # after the vocabulary was rebuilt or grew
    vocabulary_generation()       # part of every cached correction's key

Corrections are cached for minutes, and the vocabulary grows as products are indexed: a word
corrected (or left alone) against an empty or smaller vocabulary must not stay so. Bumping one
number retires every cached correction at once, without knowing their keys.
"""

from __future__ import annotations

import time

from django.core.cache import cache

__all__ = ["vocabulary_changed", "vocabulary_generation"]

GENERATION_KEY = "recommender:search:vocabulary-generation"


def vocabulary_changed() -> None:
    """Retire every cached correction: the vocabulary was rebuilt or grew."""
    cache.set(GENERATION_KEY, time.time_ns(), None)


def vocabulary_generation() -> int:
    """The current generation (0 until the first change)."""
    return int(cache.get(GENERATION_KEY, 0))
