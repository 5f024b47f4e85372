"""Spelling correction of query words against the catalog's own vocabulary.

    corrections(["skrit", "black"])      # {"skrit": "skirt"}

The vocabulary is the words of the serving version's product texts, materialised as
``SuggestionPhrase(kind="term")`` rows with their document frequency (see ``phrases.py``), plus
the lexicon's words. A word that is neither is replaced by the vocabulary word at the smallest
Damerau-Levenshtein distance (transpositions count once: "skrit" → "skirt" is one edit), the
more frequent word winning ties. Candidates are shortlisted in SQL by length and by first letter
or trigram similarity (trigrams alone miss transposed short words: similarity 0.2), and each
word's correction is cached for a few minutes, so a shopper typing on costs no new lookups.

Never corrected: colour names and other lexicon words, and common English words
(``english.py``): "black" stays "black" in a catalog that happens to sell only "colour block"
tops. The vocabulary is rebuilt when the catalog is indexed (``phrases.py``); each rebuild
retires every cached correction at once (``vocabulary.py``).

For suggestions, :func:`prefix_correction` corrects a word still being typed: the vocabulary
word whose beginning is closest to it ("carfig" → "cardigan"), a whole-word match first ("blak"
→ "black" rather than "blazer", whose first four letters are one edit away too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from django.core.cache import cache
from django.db import connection
from django.db.models.functions import Length

from recommender.models.suggestions import SuggestionPhrase
from recommender.search.english import is_common_english
from recommender.search.lexicon import lexicon_words
from recommender.search.normalize import singular_forms
from recommender.search.vocabulary import vocabulary_generation

__all__ = [
    "catalog_words",
    "category_words",
    "check_words",
    "corrections",
    "damerau_levenshtein",
    "known_words",
    "max_edits",
    "prefix_correction",
]

# Words shorter than this are never corrected: too many real words are one edit apart.
MIN_LENGTH = 3
# Category names and corrections change with the catalog (suggestion refresh), not per request.
CATEGORY_CACHE_SECONDS = 300
CORRECTION_CACHE_SECONDS = 300
# Words sharing a partial word's first letter that are compared with it, most frequent first
# (typos are of common words). H&M's 3,778 words have at most 310 per first letter, compared in
# 35 ms on a busy 2-core machine; computed only when few phrases start with the typed text, and
# cached per word.
PREFIX_CANDIDATES = 1000


def max_edits(word: str) -> int:
    """Edits allowed for a word: 1 up to seven letters, 2 from eight.

    A real word the catalog lacks is often two edits from one it has ("little" → "latte",
    "going" → "gown"); a wrong correction is worse than none, since the vector list still finds
    most typos. On the benchmark's tuning half, this budget restores 85 % of misspelled queries
    and changes 0.7 % of correct ones (Elasticsearch's AUTO budget, 2 edits from six letters:
    87 % and 3.6 %).
    """
    if len(word) < MIN_LENGTH:
        return 0
    return 1 if len(word) <= 7 else 2


def damerau_levenshtein(a: str, b: str, limit: int | None = None) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps.

    With ``limit``, stops as soon as the distance must exceed it and returns ``limit + 1``.
    """
    if a == b:
        return 0
    if limit is not None and abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if limit is not None and min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _checkable(word: str) -> bool:
    return len(word) >= MIN_LENGTH and word.isalpha()


def catalog_words(words: Iterable[str]) -> set[str]:
    """Which of ``words`` (or their singulars) occur in product texts, in one query."""
    words = set(words)
    forms = {form for w in words for form in singular_forms(w)}
    # Written out, the forms bound as one array: compiling the ORM queryset cost more than running it.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT normalized FROM {SuggestionPhrase._meta.db_table} WHERE kind = %s AND normalized = ANY(%s)",
            [SuggestionPhrase.Kind.TERM.value, sorted(forms)],
        )
        found = {row[0] for row in cursor.fetchall()}
    return {w for w in words if any(form in found for form in singular_forms(w))}


def category_words() -> frozenset[str]:
    """The words of the serving version's category names ("vest top" → vest, top), cached."""
    from recommender.models import ProductVector
    from recommender.search.normalize import tokenize
    from recommender.versions import serving_version

    version = serving_version()
    if version is None:
        return frozenset()
    key = f"recommender:search:category-words:{version.pk}"
    words = cache.get(key)
    if words is None:
        names = ProductVector.objects.filter(version=version).values_list("category", flat=True).distinct()
        words = frozenset(w for name in names for w in tokenize(name.replace("/", " ")))
        cache.set(key, words, CATEGORY_CACHE_SECONDS)
    return words


def known_words(words: Iterable[str], in_catalog: set[str] | None = None) -> set[str]:
    """Which of ``words`` are catalog or lexicon words (``in_catalog``: catalog_words() if known)."""
    words = set(words)
    in_catalog = catalog_words(words) if in_catalog is None else in_catalog
    lexicon = lexicon_words()
    return {w for w in words if w in in_catalog or any(form in lexicon for form in singular_forms(w))}


def check_words(
    words: Sequence[str], in_catalog: set[str] | None = None, *, correct: bool = True
) -> tuple[set[str], dict[str, str]]:
    """(words the catalog and lexicon do not know, {misspelled word: correction}) for ``words``.

    Unknown common English words stay unknown (the trigram list still looks for them) but are
    never corrected.
    """
    checkable = {w for w in words if _checkable(w)}
    unknown = sorted(checkable - known_words(checkable, in_catalog))
    fixable = [w for w in unknown if not is_common_english(w)]
    if not fixable or not correct:
        return set(unknown), {}
    return set(unknown), _cached(fixable, "word", _correct)


def corrections(words: Sequence[str]) -> dict[str, str]:
    """{misspelled word: correction} for the words of ``words`` that are not known."""
    return check_words(words)[1]


def prefix_correction(partial: str) -> str:
    """The vocabulary word that ``partial`` (a word still being typed) most likely begins, or ''.

    '' when ``partial`` is too short, a common English word, or most likely the beginning of a
    word as typed (prefix matching finds those).
    """
    if not _checkable(partial) or is_common_english(partial):
        return ""
    return _cached([partial], "prefix", _correct_prefixes).get(partial, "")


def _cached(words: list[str], kind: str, compute) -> dict[str, str]:
    """{word: correction} for ``words``, through the cache (a miss is cached as '')."""
    generation = vocabulary_generation()
    keys = {w: _cache_key(w, kind, generation) for w in words}
    cached = cache.get_many(list(keys.values()))
    found = {w: cached[key] for w, key in keys.items() if key in cached}
    todo = [w for w in words if w not in found]
    if todo:
        fresh = compute(todo)
        cache.set_many({keys[w]: fresh.get(w, "") for w in todo}, CORRECTION_CACHE_SECONDS)
        found.update({w: fresh.get(w, "") for w in todo})
    return {w: fix for w, fix in found.items() if fix}


def _cache_key(word: str, kind: str, generation: int) -> str:
    digest = hashlib.sha1(word.encode()).hexdigest()
    return f"recommender:search:spell:{kind}:{generation}:{digest}"


def _correct(words: list[str]) -> dict[str, str]:
    """The closest vocabulary or lexicon word within each word's edit budget."""
    candidates = _shortlist(words)
    lexicon = lexicon_words()
    out = {}
    for word in words:
        budget = max_edits(word)
        options = candidates.get(word, []) + [(w, 0.0) for w in lexicon if w[:1] == word[:1]]
        best: tuple[int, float, str] | None = None
        for candidate, popularity in options:
            distance = damerau_levenshtein(word, candidate, budget)
            if distance > budget:
                continue
            key = (distance, -popularity, candidate)
            if best is None or key < best:
                best = key
        if best is not None:
            out[word] = best[2]
    return out


def _correct_prefixes(words: list[str]) -> dict[str, str]:
    """For each partial word: the closest whole word within its edit budget when that is more
    frequent than every word the partial already begins ("blak" → "black", though "blake" begins
    with it); else nothing when it begins a word ("jer" of "jersey" is not "jet"); else the word
    with the closest beginning ("carfig" → "cardigan"), the more frequent winning ties."""
    lexicon = lexicon_words()
    out = {}
    for word in words:
        budget = max_edits(word)
        options = _prefix_shortlist(word, budget) + [(w, 0.0) for w in lexicon if w[:1] == word[:1]]
        begun = max((popularity for candidate, popularity in options if candidate.startswith(word)), default=None)
        whole: tuple[int, float, str] | None = None
        prefixed: tuple[int, float, str] | None = None
        prefixes: dict[str, int] = {}  # candidates sharing a beginning share its distance
        for candidate, popularity in options:
            if abs(len(candidate) - len(word)) <= budget:
                distance, prefix = prefix_distances(word, candidate, budget)
            else:
                # Farther than the budget as a whole word; a beginning within the budget is at most
                # len(word) + budget letters long, so only those letters need comparing.
                head = candidate[: len(word) + budget]
                if head not in prefixes:
                    prefixes[head] = prefix_distances(word, head, budget)[1]
                distance, prefix = budget + 1, prefixes[head]
            if distance <= budget and (whole is None or (distance, -popularity, candidate) < whole):
                whole = (distance, -popularity, candidate)
            if prefix <= budget and (prefixed is None or (prefix, -popularity, candidate) < prefixed):
                prefixed = (prefix, -popularity, candidate)
        if whole is not None and (begun is None or -whole[1] > begun):
            out[word] = whole[2]
        elif begun is None and prefixed is not None:
            out[word] = prefixed[2]
    return {w: fix for w, fix in out.items() if not fix.startswith(w)}


def prefix_distances(a: str, b: str, limit: int | None = None) -> tuple[int, int]:
    """(distance from ``a`` to ``b``, smallest distance from ``a`` to a beginning of ``b``), both
    optimal-string-alignment distances, from one table: its last row holds ``a`` against every
    prefix of ``b``. With ``limit``, stops as soon as both must exceed it: (limit + 1, limit + 1)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if limit is not None and min(current) > limit:
            return limit + 1, limit + 1
        previous2, previous = previous, current
    return previous[-1], min(previous)


def _prefix_shortlist(word: str, budget: int) -> list[tuple[str, float]]:
    """Vocabulary words sharing ``word``'s first letter, long enough to begin with a correction of it."""
    rows = (
        SuggestionPhrase.objects.filter(kind=SuggestionPhrase.Kind.TERM, normalized__startswith=word[:1])
        .annotate(length=Length("normalized"))
        .filter(length__gte=len(word) - budget)
        .order_by("-popularity")
        .values_list("normalized", "popularity")[:PREFIX_CANDIDATES]
    )
    return [(text, float(popularity)) for text, popularity in rows]


def _shortlist(words: list[str]) -> dict[str, list[tuple[str, float]]]:
    """Vocabulary words within each word's edit budget in length, sharing its first letter or
    its trigrams (``%``: pg_trgm's default similarity 0.3), in one statement of index scans.

    The two conditions are two SELECTs joined by UNION: as one ``LIKE … OR … %`` the planner
    rechecked both on every row either index found (7.4 → 3.5 ms for "sweeater" on H&M).
    """
    table = SuggestionPhrase._meta.db_table
    parts, params = [], []
    for word in words:
        budget = max_edits(word)
        lengths = [len(word) - budget, len(word) + budget]
        head = f"SELECT %s, normalized, popularity FROM {table} WHERE kind = 'term' AND length(normalized) BETWEEN %s AND %s"
        parts.append(f"({head} AND normalized LIKE %s UNION {head} AND normalized %% %s)")
        params += [word, *lengths, _like_prefix(word[:1]), word, *lengths, word]
    out: dict[str, list[tuple[str, float]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for word, candidate, popularity in cursor.fetchall():
            out.setdefault(word, []).append((candidate, float(popularity)))
    return out


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
