"""Query text normalisation and tokenising, shared by search, the query log and suggestions.

    normalize_query("  Black   DRESS\\x00 ")     # "black dress"
    tokenize("men's t-shirt, size M")          # ["men's", "t-shirt", "size", "m"]

Everything that compares query texts (the log's ``normalized`` column, suggestion phrases,
spelling) goes through these two functions, so "Black  Dress" and "black dress" are one query.
Accents are kept: Postgres full text (without ``unaccent``) keeps them in product documents too.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["WORD", "clean_query", "normalize_query", "singular_forms", "tokenize"]

# Control characters (NUL included: Postgres rejects it in text parameters).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A word: letters/digits, with inner hyphens or apostrophes kept ("t-shirt", "men's").
WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def clean_query(text: str, max_length: int | None = None) -> str:
    """The query as typed, safe to store and show: NFKC, control characters (NUL included) removed,
    whitespace collapsed, cut to ``max_length``; case kept (``normalize_query`` folds it)."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    if max_length is not None:
        text = text[: max_length * 2]
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if max_length is None else text[:max_length].rstrip()


def normalize_query(text: str, max_length: int | None = None) -> str:
    """Case-folded, NFKC, control characters removed, whitespace collapsed, cut to ``max_length``."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    if max_length is not None:
        text = text[: max_length * 2]  # cut early: a 10 kB query must not cost a 10 kB scan
    text = _CONTROL.sub(" ", text).casefold().replace("’", "'")
    text = " ".join(text.split())
    if max_length is not None and len(text) > max_length:
        text = text[:max_length].rsplit(" ", 1)[0] if " " in text[:max_length] else text[:max_length]
    return text


def tokenize(text: str) -> list[str]:
    """The words of a (normalised) text, in order."""
    return WORD.findall(normalize_query(text))


def singular_forms(word: str) -> list[str]:
    """``word`` and its plausible English singulars ("dresses" → "dress"), most likely first."""
    forms = [word]
    if len(word) > 3 and word.endswith("ies"):
        forms.append(word[:-3] + "y")
    if len(word) > 3 and word.endswith(("ses", "xes", "zes", "ches", "shes")):
        forms.append(word[:-2])
    if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
        forms.append(word[:-1])
    return forms
