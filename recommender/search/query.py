"""What a shopper typed, understood: words, lexicon expansions, spelling corrections, negations.

    parsed = parse_query('maroon pullover -"v-neck"')
    parsed.groups        # (TermGroup("maroon", ("dark red", "burgundy")), TermGroup("pullover", ...), ...)
    parsed.corrected     # the query with misspellings fixed ("skrit" → "skirt"), for "did you mean"
    parsed.dense_text    # what the text encoder embeds

Quoted phrases and ``-word`` negations follow Postgres' ``websearch_to_tsquery`` syntax, so the
full-text list and this parser agree on what the shopper meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from recommender.conf import app_settings
from recommender.search.lexicon import expansions, match_phrases
from recommender.search.normalize import WORD, normalize_query, singular_forms, tokenize

__all__ = ["ParsedQuery", "TermGroup", "parse_query"]

_PARTS = re.compile(r'(-?)"([^"]*)"|(-?)(\S+)')
# Words websearch syntax treats as operators, and that carry no meaning on their own.
_OPERATORS = {"or", "and"}
# The raw text kept for logging: the log's column holds 500 characters.
MAX_RAW_LENGTH = 500


@dataclass(frozen=True)
class TermGroup:
    """One word or phrase of the query with the alternatives that may match it instead."""

    text: str
    alternatives: tuple[str, ...] = ()
    correction: str = ""
    negated: bool = False
    quoted: bool = False
    # Whether the catalog names categories with this word (every word of the phrase): then the
    # text encoder gets it alone; other words get their expansions appended ("slacks trousers").
    category: bool = False

    @property
    def terms(self) -> tuple[str, ...]:
        """The text and every alternative, without repeats."""
        return tuple(dict.fromkeys((self.text, *self.alternatives)))

    @property
    def best(self) -> str:
        """The correction when there is one, else the text."""
        return self.correction or self.text


@dataclass(frozen=True)
class ParsedQuery:
    raw: str
    text: str
    groups: tuple[TermGroup, ...] = ()
    expanded: bool = True
    corrected_words: dict[str, str] = field(default_factory=dict)
    # Words neither product texts nor the lexicon contain (typos, partial words, rare words).
    unknown_words: frozenset[str] = frozenset()

    @property
    def positive(self) -> tuple[TermGroup, ...]:
        return tuple(g for g in self.groups if not g.negated)

    @property
    def negated(self) -> tuple[TermGroup, ...]:
        return tuple(g for g in self.groups if g.negated)

    @property
    def has_corrections(self) -> bool:
        return bool(self.corrected_words)

    @property
    def corrected(self) -> str:
        """The query with corrections applied (equal to ``text`` when nothing was corrected)."""
        if not self.corrected_words:
            return self.text
        return WORD.sub(lambda m: self.corrected_words.get(m.group(0), m.group(0)), self.text)

    @property
    def typed_text(self) -> str:
        """The positive words as typed, without syntax: what trigram similarity compares."""
        return " ".join(g.text for g in self.positive)

    @property
    def dense_text(self) -> str:
        """What the text encoder sees: the corrected words, then expansions of non-category words.

        Appending the catalog's words helps a general text model place shopper words ("maroon",
        "slacks") next to the names products use ("dark red", "trousers"); a word that already
        names a category is left alone (its synonyms would only blur the query). Chosen on the
        tuning half of the benchmark over "expand every word" and "expand words products lack".
        """
        words = [g.best for g in self.positive]
        if self.expanded:
            words += [alt for g in self.positive if not g.category for alt in g.alternatives[:2] if alt != g.best]
        return " ".join(dict.fromkeys(words))


def parse_query(text: str, *, expand: bool = True, correct: bool = True) -> ParsedQuery:
    """Normalise, split into lexicon phrases, expand and correct (each step can be switched off).

    Only the first ``SEARCH_MAX_QUERY_WORDS`` words count: every word costs a spelling check,
    lexicon lookups, tokens for the text encoder and trigrams to compare, so a 195-character
    string of random words took 2.2 s against 0.1 s for "dress" (``bench/results/search_abuse.md``).
    """
    max_words = max(1, int(app_settings.SEARCH_MAX_QUERY_WORDS))
    normalized = " ".join(normalize_query(text, app_settings.SEARCH_MAX_QUERY_LENGTH).split(" ")[:max_words])
    pieces: list[tuple[list[str], bool, bool]] = []  # (tokens, negated, quoted)
    budget = max_words  # "a,b,c" is one chunk of three words: count words, not chunks
    for match in _PARTS.finditer(normalized):
        if budget <= 0:
            break
        if match.group(2) is not None:
            tokens = tokenize(match.group(2))[:budget]
            if tokens:
                pieces.append((tokens, bool(match.group(1)), True))
                budget -= len(tokens)
            continue
        negated, word = bool(match.group(3)), match.group(4)
        tokens = tokenize(word)[:budget]
        budget -= len(tokens)
        if tokens and not (len(tokens) == 1 and tokens[0] in _OPERATORS and not negated):
            if pieces and not negated and not pieces[-1][1] and not pieces[-1][2]:
                pieces[-1][0].extend(tokens)  # consecutive plain words form one run for phrase matching
            else:
                pieces.append((tokens, negated, False))
    words = [t for tokens, _neg, quoted in pieces if not quoted for t in tokens]
    unknown: set[str] = set()
    fixes: dict[str, str] = {}
    categories: frozenset[str] = frozenset()
    if words:
        from recommender.search.spelling import catalog_words, category_words, check_words

        in_catalog = catalog_words(words)
        unknown, fixes = check_words(words, in_catalog, correct=correct)
        categories = category_words()
    groups: list[TermGroup] = []
    for tokens, negated, quoted in pieces:
        if quoted:
            groups.append(TermGroup(" ".join(tokens), negated=negated, quoted=True))
            continue
        for phrase, start, end in match_phrases(tokens):
            fix = fixes.get(phrase, "") if end - start == 1 else ""
            alternatives = expansions(fix or phrase) if expand else ()
            if fix:
                alternatives = (fix, *alternatives)
            names_category = all(any(f in categories for f in singular_forms(w)) for w in (fix or phrase).split())
            groups.append(
                TermGroup(phrase, tuple(dict.fromkeys(alternatives)), fix, negated=negated, category=names_category)
            )
    return ParsedQuery(
        raw=str(text or "")[:MAX_RAW_LENGTH],
        text=normalized,
        groups=tuple(groups),
        expanded=expand,
        corrected_words=fixes,
        unknown_words=frozenset(unknown),
    )
