"""Which script and language a query is written in, cheaply: Unicode blocks and word lists, no model.

    detect_language("黑色连衣裙")       # Language(script="han", code="zh")
    detect_language("vestido negro")   # Language(script="latin", code="es")
    detect_language("black dress")     # Language(script="latin", code="en")

Search needs to know two things before it runs a leg: can the query's words match the
catalogue's words (same language), and if not, which term map translates them. The script
decides most of it (Han is Chinese, kana Japanese, Hangul Korean, Arabic, Hebrew, Cyrillic);
for Latin text the shipped term maps vote (``"falda"`` is Spanish, ``"rock"`` is not), with
letters only one language writes (``ñ``, ``ß``) as a tie-breaker. A query with no clear vote is
in the catalogue's own language: an English word never gets translated away.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass

__all__ = ["CJK_SCRIPTS", "Language", "detect_language", "script_of", "scripts"]

# Scripts whose text has no spaces between words: lexical legs must segment it first.
CJK_SCRIPTS = frozenset({"han", "kana", "hangul"})
# Script -> the language it means when a term map is needed (Han alone is read as Chinese).
_SCRIPT_LANGUAGE = {"han": "zh", "kana": "ja", "hangul": "ko", "arabic": "ar", "hebrew": "he", "cyrillic": "ru"}
# Letters that only one of the Latin-script languages with a term map writes.
_MARKERS = {"ñ": "es", "¿": "es", "¡": "es", "ß": "de"}


@dataclass(frozen=True)
class Language:
    """The query's main script (``latin``, ``han``, ...) and language code (``en``, ``zh``, ...)."""

    script: str
    code: str

    @property
    def segmented(self) -> bool:
        """Whether words are written without spaces (lexical legs need segmenting)."""
        return self.script in CJK_SCRIPTS


def script_of(char: str) -> str:
    """The script of one character, by Unicode name; '' for digits, punctuation, symbols, emoji."""
    if not char.isalpha():
        return ""
    code = ord(char)
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9F:
        return "kana"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    name = unicodedata.name(char, "")
    if name.startswith("CJK "):
        return "han"
    for script in ("LATIN", "ARABIC", "HEBREW", "CYRILLIC", "GREEK", "THAI", "DEVANAGARI"):
        if name.startswith(script):
            return script.lower()
    return "other"


def scripts(text: str) -> Counter[str]:
    """How many letters of each script ``text`` has."""
    return Counter(s for s in map(script_of, text) if s)


def detect_language(text: str, *, catalogue: str = "en", votes: dict[str, int] | None = None) -> Language:
    """The script with most letters, and its language.

    ``votes`` is, for Latin text, how many of its words each language's term map knows (from
    :mod:`recommender.search.translation`); Latin text without votes or markers is ``catalogue``.
    Kana anywhere makes Han text Japanese (Japanese mixes both); Hangul makes it Korean.
    """
    counts = scripts(text)
    if not counts:
        return Language("", catalogue)
    if counts.get("kana"):
        return Language("kana", "ja")
    if counts.get("hangul"):
        return Language("hangul", "ko")
    script = counts.most_common(1)[0][0]
    if script != "latin":
        return Language(script, _SCRIPT_LANGUAGE.get(script, script))
    lowered = text.casefold()
    tally = Counter(votes or {})
    for letter, code in _MARKERS.items():
        if letter in lowered:
            tally[code] += 1
    tally.pop(catalogue, None)
    best = [code for code, n in tally.most_common() if n > 0]
    return Language("latin", best[0] if best else catalogue)
