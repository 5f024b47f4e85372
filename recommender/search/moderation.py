"""Which logged queries may be suggested: the admin's moderation list and the built-in patterns.

    allowed("black dress")            # True
    allowed("www.cheap-pills.example") # False: a web address (SEARCH_SUGGESTION_BLOCK_PATTERNS)
    block("buy followers")            # a SuggestionRule; the phrase stops being suggested now
    approve("h&m.com")                # suggested despite the web-address pattern
    enforce()                         # drop published query phrases the rules no longer allow

``refresh_suggestions()`` publishes only allowed queries; ``block``/``approve`` and the admin
call ``enforce()`` so a block takes effect at once, not at the next refresh. Only logged
queries are moderated: product names and categories come from the catalog itself.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from recommender.conf import app_settings
from recommender.models import SuggestionPhrase, SuggestionRule
from recommender.search.normalize import normalize_query, tokenize

__all__ = ["Moderation", "allowed", "approve", "block", "enforce", "moderation"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Moderation:
    """The rules in force, read once (a refresh or an enforce checks many phrases)."""

    blocked_phrases: frozenset[str] = frozenset()
    blocked_words: frozenset[str] = frozenset()
    blocked_patterns: tuple[re.Pattern[str], ...] = ()
    approved: frozenset[str] = frozenset()
    default_patterns: tuple[re.Pattern[str], ...] = ()
    approved_only: bool = False

    def allows(self, text: str) -> bool:
        """Whether the (logged) query ``text`` may be suggested."""
        normalized = normalize_query(text)
        if not normalized or normalized in self.blocked_phrases:
            return False
        if self.blocked_words.intersection(tokenize(normalized)):
            return False
        if any(p.search(normalized) for p in self.blocked_patterns):
            return False
        if normalized in self.approved:
            return True
        if self.approved_only:
            return False
        return not any(p.search(normalized) for p in self.default_patterns)


def _compile(pattern: str, origin: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error as exc:  # a rule saved without the admin's validation: skip it, say so
        logger.warning("Ignoring suggestion block pattern %r (%s): %s", pattern, origin, exc)
        return None


def moderation() -> Moderation:
    """The moderation list and settings as they are now."""
    phrases, words, patterns, approved = set(), set(), [], set()
    for action, match, text in SuggestionRule.objects.values_list("action", "match", "text"):
        if action == SuggestionRule.Action.APPROVE:
            approved.add(normalize_query(text))
        elif match == SuggestionRule.Match.WORD:
            words.update(tokenize(text))
        elif match == SuggestionRule.Match.PATTERN:
            patterns.append(_compile(text, "moderation rule"))
        else:
            phrases.add(normalize_query(text))
    defaults = [
        _compile(p, f"SEARCH_SUGGESTION_BLOCK_PATTERNS[{name!r}]")
        for name, p in (app_settings.SEARCH_SUGGESTION_BLOCK_PATTERNS or {}).items()
        if p
    ]
    return Moderation(
        blocked_phrases=frozenset(phrases - {""}),
        blocked_words=frozenset(words),
        blocked_patterns=tuple(p for p in patterns if p is not None),
        approved=frozenset(approved - {""}),
        default_patterns=tuple(p for p in defaults if p is not None),
        approved_only=bool(app_settings.SEARCH_SUGGESTIONS_APPROVED_ONLY),
    )


def allowed(text: str) -> bool:
    """Whether the logged query ``text`` may be suggested under the rules in force."""
    return moderation().allows(text)


def enforce() -> int:
    """Delete the published query phrases the rules do not allow; returns how many went."""
    rules = moderation()
    published = SuggestionPhrase.objects.filter(kind=SuggestionPhrase.Kind.QUERY).values_list("pk", "normalized")
    doomed = [pk for pk, normalized in published if not rules.allows(normalized)]
    if doomed:
        SuggestionPhrase.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def _rule(action: str, text: str, match: str, note: str) -> SuggestionRule:
    text = text if match == SuggestionRule.Match.PATTERN else normalize_query(text, 200)
    if not text:
        raise ValueError("A moderation rule needs a phrase, a word or a pattern.")
    rule = SuggestionRule(action=action, match=match, text=text, note=note)
    rule.full_clean(validate_unique=False, validate_constraints=False)  # update_or_create below
    rule, _created = SuggestionRule.objects.update_or_create(
        match=match, text=text, defaults={"action": action, "note": note}
    )
    enforce()
    return rule


def block(text: str, *, match: str = SuggestionRule.Match.PHRASE, note: str = "") -> SuggestionRule:
    """Never suggest ``text`` (a phrase, a word, or a regular expression with ``match="pattern"``)."""
    return _rule(SuggestionRule.Action.BLOCK, text, match, note)


def approve(text: str, *, note: str = "") -> SuggestionRule:
    """Let the query ``text`` be suggested despite the built-in patterns (a block still wins)."""
    return _rule(SuggestionRule.Action.APPROVE, text, SuggestionRule.Match.PHRASE, note)
