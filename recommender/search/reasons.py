"""Why a search result is shown, in words for shoppers: the ``reason`` of each hit, as
recommendations have ("Because you viewed …").

    text_reason(parsed, hit)    # 'Matches “black dress” in the title'
    IMAGE_REASON                # 'Similar to your photo'

Read from the lists that found the product (``SearchHit.matched``) and from where the query's
words, or their lexicon alternatives, occur in the product's title and category:

- full text or trigram found it: “Matches “black dress” in the title” (or the category, or the
  description when neither names the words);
- the query was corrected: “Did you mean “black dress”? Matches it in the title”;
- only the text vectors found it (no word in common): “Looks like “black dress””.
"""

from __future__ import annotations

from recommender.search.normalize import singular_forms, tokenize
from recommender.search.query import ParsedQuery
from recommender.search.results import SearchHit

__all__ = ["IMAGE_REASON", "text_reason"]

IMAGE_REASON = "Similar to your photo"
LEXICAL_LISTS = ("fulltext", "trigram")


def text_reason(parsed: ParsedQuery, hit: SearchHit) -> str:
    """The reason ``hit`` answers the text query ``parsed``."""
    typed = parsed.typed_text
    searched = " ".join(g.best for g in parsed.positive)
    corrected = parsed.has_corrections and searched != typed
    if not any(name in LEXICAL_LISTS for name in hit.matched):
        return f"Looks like “{searched}”" if hit.matched else f"Matches “{searched}”"
    where = _field(parsed, hit) or ("the description" if "fulltext" in hit.matched else "the title")
    if corrected:
        return f"Did you mean “{searched}”? Matches it in {where}"
    return f"Matches “{typed}” in {where}"


def _field(parsed: ParsedQuery, hit: SearchHit) -> str:
    """'the title' or 'the category' when a query word (or an alternative) is in it, else ''."""
    for name, text in (("the title", hit.title), ("the category", hit.category)):
        forms = {form for word in tokenize(text.replace("/", " ")) for form in singular_forms(word)}
        for group in parsed.positive:
            for term in (group.best, *group.terms):
                words = term.split()
                if words and all(any(f in forms for f in singular_forms(w)) for w in words):
                    return name
    return ""
