"""Search in the shopper's language over a catalogue written in another: the hook points of the engine.

    parsed = parse_shopper_query("黑色连衣裙")        # parsed "black dress"; parsed.raw stays "黑色连衣裙"
    weights = leg_weights(parsed, SEARCH_WEIGHTS)    # legs that cannot match are switched off
    statements.update(multilingual_statements(parsed, filters, k, weights))   # USE-m3 leg, foreign only

A query in the catalogue's language goes through unchanged (same parse, same legs, no extra
work beyond a script check). Any other query is translated with the shipped term maps
(:mod:`recommender.search.translation`); its English words feed the usual legs (full text,
trigram, the catalogue's text vectors), and its original text feeds one more leg: USE-m3 vectors
of the query against USE-m3 vectors of the product texts, stored as a second encoder version
(``SEARCH_MULTILINGUAL_VERSION``). When no word could be translated (an Arabic query, say), only
that leg runs: the English legs cannot match a script the product texts do not use, and the
catalogue's English-only text encoder would only add noise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache

from recommender.conf import app_settings
from recommender.models import ModelVersion
from recommender.search.dense import dense_statement, query_vector
from recommender.search.english import common_english_words
from recommender.search.filters import SearchFilters
from recommender.search.lexicon import LEXICON, lexicon_words
from recommender.search.query import MAX_RAW_LENGTH, ParsedQuery, parse_query
from recommender.search.retrieval import Statement
from recommender.search.translation import LANGUAGES, Translation, term_map, translate

__all__ = [
    "ENGLISH_LEGS",
    "LEG",
    "leg_weights",
    "multilingual_statements",
    "multilingual_version",
    "parse_shopper_query",
    "shopper_translation",
    "shown_text",
]

logger = logging.getLogger(__name__)

LEG = "multilingual_vector"
# The legs that compare the query's (translated) words with the catalogue's own texts.
ENGLISH_LEGS = ("text_vector", "fused_vector", "fulltext", "trigram")


@lru_cache(maxsize=1)
def _known_english() -> frozenset[str]:
    """Words that never vote for another language: common English, the built-in lexicon and the
    English side of the term maps ("push-up", "balconette", "chelsea", "midi")."""
    translations = {w for code in LANGUAGES for term in term_map(code).values() for w in term.english.split()}
    return common_english_words() | lexicon_words(LEXICON) | frozenset(translations)


def shopper_translation(text: str) -> Translation:
    """The query's language and its English words (cached per text; no database access)."""
    return translate(str(text or "")[:MAX_RAW_LENGTH], str(app_settings.SEARCH_LANGUAGE), _known_english())


def parse_shopper_query(text: str) -> ParsedQuery:
    """``parse_query`` of the query's English words, keeping the original as ``raw`` (logged as typed).

    A catalogue-language query is parsed exactly as before. A foreign one with no translatable
    word is parsed as typed: it keeps its words (the search is not "empty"), and
    :func:`leg_weights` keeps the English legs away from them.
    """
    translation = shopper_translation(text)
    if not translation.foreign or not translation.english:
        return parse_query(text)
    return replace(parse_query(translation.english), raw=str(text or "")[:MAX_RAW_LENGTH])


def shown_text(parsed: ParsedQuery) -> str:
    """The query to show back to the shopper: as typed (normalised) when it was translated, so
    results say "黑色连衣裙" while ``SearchResults.searched`` says what was searched ("black dress")."""
    translation = shopper_translation(parsed.raw)
    return translation.text if translation.foreign and translation.english else parsed.text


def leg_weights(parsed: ParsedQuery, weights: Mapping[str, float]) -> Mapping[str, float]:
    """``weights`` with the legs that cannot match this query at 0 (the same object when all can)."""
    translation = shopper_translation(parsed.raw)
    if not translation.foreign:
        return weights
    if translation.english:
        return weights
    return {name: (0.0 if name in ENGLISH_LEGS else w) for name, w in weights.items()}


def multilingual_version() -> ModelVersion | None:
    """The encoder version named by ``SEARCH_MULTILINGUAL_VERSION`` (USE-m3 product text vectors)."""
    name = app_settings.SEARCH_MULTILINGUAL_VERSION
    if not name:
        return None
    return ModelVersion.objects.filter(kind=ModelVersion.Kind.ENCODER, name=name).order_by("-pk").first()


def multilingual_statements(
    parsed: ParsedQuery, filters: SearchFilters, k: int, weights: Mapping[str, float]
) -> dict[str, Statement]:
    """``{"multilingual_vector": statement}`` for a foreign query, {} otherwise: the USE-m3 leg as a
    SELECT of (product_key, cosine), sent in the search's one round trip (``retrieval.fetch_lists``;
    the statement names its own version, the facts come from the serving version's rows).

    The original text is embedded (USE-m3 reads 16 languages), not the translation: it carries
    what the term maps do not know.
    """
    if weights.get(LEG, 0) <= 0:
        return {}
    translation = shopper_translation(parsed.raw)
    if not translation.foreign:
        return {}
    version = multilingual_version()
    if version is None:
        return {}
    vector = query_vector(version, translation.text)
    if vector is None:
        return {}
    margin = float(app_settings.SEARCH_MULTILINGUAL_MARGIN)
    return {LEG: dense_statement(vector, version, filters, column="text_embedding", k=k, margin=margin)}
