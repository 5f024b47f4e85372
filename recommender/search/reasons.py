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

from django.utils.translation import gettext, gettext_lazy

from recommender.search.normalize import singular_forms, tokenize
from recommender.search.query import ParsedQuery
from recommender.search.results import SearchHit

__all__ = ["IMAGE_REASON", "text_reason"]

IMAGE_REASON = gettext_lazy("Similar to your photo")
LEXICAL_LISTS = ("fulltext", "trigram")
# Whole sentences per field, with the query as a named placeholder: translations reorder freely.
MATCHES_IN = {
    "the title": gettext_lazy("Matches “%(query)s” in the title"),
    "the category": gettext_lazy("Matches “%(query)s” in the category"),
    "the description": gettext_lazy("Matches “%(query)s” in the description"),
}
CORRECTED_IN = {
    "the title": gettext_lazy("Did you mean “%(query)s”? Matches it in the title"),
    "the category": gettext_lazy("Did you mean “%(query)s”? Matches it in the category"),
    "the description": gettext_lazy("Did you mean “%(query)s”? Matches it in the description"),
}


def text_reason(parsed: ParsedQuery, hit: SearchHit) -> str:
    """The reason ``hit`` answers the text query ``parsed``."""
    typed = parsed.typed_text
    searched = " ".join(g.best for g in parsed.positive)
    corrected = parsed.has_corrections and searched != typed
    if not any(name in LEXICAL_LISTS for name in hit.matched):
        sentence = gettext("Looks like “%(query)s”") if hit.matched else gettext("Matches “%(query)s”")
        return sentence % {"query": searched}
    where = _field(parsed, hit) or ("the description" if "fulltext" in hit.matched else "the title")
    if corrected:
        return CORRECTED_IN[where] % {"query": searched}
    return MATCHES_IN[where] % {"query": typed}


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
