"""Suggestions as the shopper types, and related searches, served from the materialised phrases.

    suggest("blac", limit=8)          # [Suggestion("black dress", "query"), Suggestion("Black", ...), ...]
    related_searches("black dress")   # ["little black dress", "black skirt", ...]

One indexed query per keystroke on ``SuggestionPhrase`` (see ``phrases.py``): phrases starting
with the typed text first (b-tree ``varchar_pattern_ops``), then phrases with a word starting
with it (for Chinese, Japanese and Korean text, which has no spaces: containing it), then fuzzy
matches for typos (GIN trigram, ``%>``); within each, popular searches
outrank categories, which outrank product names, and more popular phrases come first. Logged
queries are only served when at least ``RecommenderSettings.suggestion_min_sessions`` distinct
sessions searched them, whatever the table holds.

A typo in the prefix: when the typed text starts fewer than ``FEW_PREFIX_MATCHES`` phrases, its
completed words are corrected with the spelling vocabulary and its last, partial word with
``spelling.prefix_correction`` ("blak" → "black", "carfig" → "cardigan"); the corrected text's
matches follow the exact ones and come before the fuzzy ones, so "blak" suggests "black dress"
before "Blazer" (which only shares its first letters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import connection, transaction

from recommender.db_binding import server_side_binding
from recommender.models import RecommenderSettings
from recommender.models.suggestions import SuggestionPhrase
from recommender.search.language import CJK_SCRIPTS, script_of
from recommender.search.normalize import normalize_query
from recommender.search.spelling import corrections, prefix_correction

__all__ = ["MAX_SUGGESTIONS", "Suggestion", "related_searches", "suggest", "suggest_sql"]

MAX_SUGGESTIONS = 20
# Longer prefixes are cut: nobody types a 200-character prefix, and the match stays cheap.
MAX_PREFIX = 100
# Fuzzy matching starts at this many characters (fewer have too few trigrams to compare).
FUZZY_MIN_CHARS = 4
FUZZY_THRESHOLD = 0.5
# Fewer phrases than this starting with the typed text: its typos are corrected too.
FEW_PREFIX_MATCHES = 3
# How much each kind's popularity counts: what shoppers searched and clicked is the best signal.
KIND_WEIGHTS = {"query": 2.0, "category": 1.0, "product": 0.7}
RELATED_MIN_SIMILARITY = 0.5


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: str


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def suggest_sql(typed: str, limit: int, min_sessions: int) -> tuple[str, dict[str, Any]]:
    """The one query behind :func:`suggest` (also used to check its plan in the tests)."""
    table = SuggestionPhrase._meta.db_table
    weight = " ".join(f"WHEN '{kind}' THEN {w}" for kind, w in KIND_WEIGHTS.items())
    sql = f"""
        SELECT text, kind, normalized,
               CASE WHEN normalized LIKE %(prefix)s THEN 3
                    WHEN normalized LIKE %(word)s OR (%(inner)s AND normalized LIKE %(infix)s) THEN 2
                    ELSE 1 END AS match,
               CASE WHEN %(fuzzy)s THEN word_similarity(%(typed)s, normalized) ELSE 0 END AS similarity,
               ln(1 + popularity) * CASE kind {weight} ELSE 0 END AS weight
        FROM {table}
        WHERE kind <> 'term'
          AND (kind <> 'query' OR sessions >= %(min_sessions)s)
          AND (normalized LIKE %(prefix)s OR normalized LIKE %(word)s OR (%(fuzzy)s AND normalized %%> %(typed)s)
               OR (%(inner)s AND normalized LIKE %(infix)s))
        ORDER BY match DESC, similarity DESC, weight DESC, normalized
        LIMIT %(fetch)s
    """
    params = {
        "prefix": _like_escape(typed) + "%",
        "word": "% " + _like_escape(typed) + "%",
        "typed": typed,
        "fuzzy": len(typed.replace(" ", "")) >= FUZZY_MIN_CHARS,
        # Chinese and Japanese write words without spaces: a word can start anywhere in a phrase.
        "inner": any(script_of(c) in CJK_SCRIPTS for c in typed),
        "infix": "%" + _like_escape(typed) + "%",
        "min_sessions": min_sessions,
        "fetch": limit * 3,  # room for duplicates across kinds
    }
    return sql, params


def _matches(typed: str, limit: int, min_sessions: int) -> list[tuple]:
    """The rows of :func:`suggest_sql`, in one round trip: the settings and the query go in one
    message (Postgres runs it as one implicit transaction, so both settings end with it)."""
    sql, params = suggest_sql(typed, limit, min_sessions)
    # The planner prices GIN trigram scans of long texts above a scan of the whole table, which
    # then costs 30 ms instead of 3 ms.
    settings = (
        "SELECT set_config('pg_trgm.word_similarity_threshold', %(threshold)s, true), "
        "set_config('enable_seqscan', 'off', true)"
    )
    params = {**params, "threshold": str(FUZZY_THRESHOLD)}
    if server_side_binding():
        with transaction.atomic(), connection.cursor() as cursor:  # one statement per message there
            cursor.execute(settings, params)
            cursor.execute(sql, params)
            return cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(f"{settings}; {sql}", params)
        cursor.nextset()
        return cursor.fetchall()


def _corrected(typed: str) -> str:
    """``typed`` with misspelled complete words fixed ("skrit" → "skirt") and its last, partial
    word completed from the vocabulary ("blak" → "black"), or '' when nothing changed."""
    words = typed.split()
    fixes = corrections(words[:-1])
    last = prefix_correction(words[-1]) or words[-1]
    fixed = [*(fixes.get(w, w) for w in words[:-1]), last]
    return " ".join(fixed) if fixed != words else ""


def suggest(prefix: str, limit: int = 8) -> list[Suggestion]:
    """Up to ``limit`` suggestions for what was typed so far (best first, no duplicates).

    When nothing starts with the typed text, its misspelled words are corrected with the
    search's spelling vocabulary and the corrected text's matches come first: trigrams alone
    hardly link "skrit" to "skirt".
    """
    typed = normalize_query(prefix, MAX_PREFIX)
    limit = max(1, min(int(limit), MAX_SUGGESTIONS))
    if not typed:
        return []
    min_sessions = RecommenderSettings.get().suggestion_min_sessions
    rows = _matches(typed, limit, min_sessions)
    exact = [row for row in rows if row[3] >= 2]  # the typed text starts the phrase or one of its words
    if len(typed.replace(" ", "")) >= FUZZY_MIN_CHARS and len(exact) < min(FEW_PREFIX_MATCHES, limit):
        corrected = _corrected(typed)
        if corrected:
            rows = exact + _matches(corrected, limit, min_sessions) + rows[len(exact) :]
    out: list[Suggestion] = []
    seen: set[str] = set()
    for text, kind, normalized, _match, _similarity, _weight in rows:
        if normalized in seen:
            continue
        seen.add(normalized)
        out.append(Suggestion(normalized if kind == SuggestionPhrase.Kind.QUERY else text, kind))
        if len(out) == limit:
            break
    return out


def related_searches(query: str, limit: int = 6) -> list[str]:
    """Popular searches related to ``query``: same sessions first, then sharing its words."""
    normalized = normalize_query(query, MAX_PREFIX * 2)
    if not normalized:
        return []
    min_sessions = RecommenderSettings.get().suggestion_min_sessions
    popular = SuggestionPhrase.objects.filter(kind=SuggestionPhrase.Kind.QUERY, sessions__gte=min_sessions)
    related = popular.filter(normalized=normalized).values_list("related", flat=True).first() or []
    allowed = set(popular.filter(normalized__in=related).values_list("normalized", flat=True))
    out = [r for r in related if r in allowed][:limit]
    if len(out) < limit:
        similar = (
            popular.exclude(normalized__in=[normalized, *out])
            .annotate(similarity=TrigramWordSimilarity(normalized, "normalized"))
            .filter(similarity__gte=RELATED_MIN_SIMILARITY)
            .order_by("-similarity", "-popularity")
            .values_list("normalized", flat=True)[: limit - len(out)]
        )
        out += list(similar)
    return out
