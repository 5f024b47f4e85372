"""open_clip's Hugging Face tokenizer, without torch: texts -> int64 token ids for an ONNX text tower.

Usage::

    tokenize = TextTokenizer.from_file("query-encoder/tokenizer.json", context_length=256, pad_id=0)
    ids = tokenize(["black summer dress"])        # np.int64 (1, longest text's tokens)

It repeats :class:`open_clip.tokenizer.HFTokenizer` step for step (ftfy + HTML unescape +
whitespace cleaning, the fast tokenizer's own normaliser and special tokens, truncation to the
context) with the ``tokenizers`` package alone, so a web process encodes queries without torch or
transformers. The ``tokenizer.json`` is the one transformers actually used when the tower was
exported, so both sides split words alike (tests compare the ids). Rows are padded to the longest
text only: HF towers mask padding, so trailing pad columns never change a vector.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import ftfy
import numpy as np
from tokenizers import Tokenizer

__all__ = ["CLEANERS", "TextTokenizer"]


def _basic_clean(text: str) -> str:
    # open_clip.tokenizer.basic_clean: mojibake repaired, HTML entities unescaped (twice).
    return html.unescape(html.unescape(ftfy.fix_text(text))).strip()


def _clean_whitespace(text: str) -> str:
    return " ".join(_basic_clean(text).split()).strip()


def _clean_lower(text: str) -> str:
    return _clean_whitespace(text).lower()


# open_clip's HFTokenizer ``clean`` modes that are reproduced here ("canonicalize" is not).
CLEANERS = {"whitespace": _clean_whitespace, "lower": _clean_lower}


class TextTokenizer:
    """Callable texts -> (n, width) int64 ids, ``width`` = the longest text's token count."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        context_length: int,
        pad_id: int,
        clean: str = "whitespace",
        sep_id: int | None = None,
    ) -> None:
        if clean not in CLEANERS:
            raise ValueError(f"unsupported clean mode {clean!r}; expected one of {sorted(CLEANERS)}")
        self._tokenizer = tokenizer
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=int(context_length))
        self._clean = CLEANERS[clean]
        self.context_length = int(context_length)
        self.pad_id = int(pad_id)
        # strip_sep_token: open_clip replaces the separator by 0 after tokenising.
        self._sep_id = sep_id

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: object) -> TextTokenizer:
        """Load a ``tokenizer.json`` written by :meth:`tokenizers.Tokenizer.save`."""
        return cls(Tokenizer.from_file(str(path)), **kwargs)  # type: ignore[arg-type]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch([self._clean(text) for text in texts])
        width = max([len(encoding.ids) for encoding in encodings] + [1])
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
        if self._sep_id is not None:
            ids[ids == self._sep_id] = 0
        return ids
