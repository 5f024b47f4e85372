"""Template tags for search: a search box with suggestions, and a results block.

    {% load recommender_search %}
    {% search_box %}                                   (GET form to this page, input "q", suggestions)
    {% search_box action="/search/" placeholder="Search products" limit=6 %}
    {% search_results %}                               (searches request.GET and renders the results)
    {% search_results limit=24 template="shop/search.html" %}
    {% search_image_form %}                            (POST form with a photo, "image"; to this page)
    {% search_image_form action="/search/" label="Search by photo" %}

``search_box`` renders ``recommender/search/box.html``: an ARIA combobox wired to the suggestion
endpoint by ``recommender/suggest.js`` (no framework). ``search_results`` reads ``q``,
``category``, ``min_price``, ``max_price`` and ``offset`` from the query string, calls
``recommender.search.search`` (which logs the search for the shopper) and renders
``recommender/search/results.html`` (override it, or include it with your own ``results``).
When the page is a POST with an uploaded ``image`` (the form of ``search_image_form``, rendered
by ``recommender/search/image_form.html``), ``search_results`` searches by that image instead
(``recommender.search.search_by_image``, logged the same way) with the query string's filters;
an unusable file renders its reason. The host view only has to accept POST (CSRF applies).
Result links carry ``data-rec-*`` attributes, so ``{% recommender_beacon %}`` records clicks and
the search log learns which queries led somewhere. A price filter that is not a price
("1e999999", "inf", "-5") is left out and the page says so above the results; a failing search
renders a short "search is unavailable" message and logs the error (``TEMPLATE_ERRORS_RAISE``
raises instead), never an empty block. Searching never creates a session (see
``recommender.search.querylog``).
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any

from django import template
from django.db import transaction
from django.template.loader import select_template
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, gettext_lazy

from recommender.conf import app_settings
from recommender.search.filters import FilterError, parse_price
from recommender.search.normalize import clean_query

if TYPE_CHECKING:
    from recommender.search import SearchFilters

logger = logging.getLogger(__name__)
register = template.Library()

SUGGEST_URL_NAME = "recommender_api:suggest"
DEFAULT_SUGGESTIONS = 8
DEFAULT_RESULTS = 24
_ids = itertools.count(1)
UNAVAILABLE = gettext_lazy("Search is unavailable right now. Please try again in a moment.")


def suggest_url() -> str:
    """The suggestion endpoint, or '' when the API is not mounted (the box still works without it)."""
    try:
        return reverse(SUGGEST_URL_NAME)
    except NoReverseMatch:
        return ""


@register.simple_tag(takes_context=True)
def search_box(
    context: template.Context,
    action: str = "",
    placeholder: str = gettext_lazy("Search"),
    limit: int = DEFAULT_SUGGESTIONS,
    name: str = "q",
    label: str = gettext_lazy("Search products"),
) -> SafeString:
    """A search form whose input suggests completions as the shopper types."""
    request = context.get("request")
    value = request.GET.get(name, "") if request is not None else ""
    ident = f"recommender-search-{next(_ids)}"
    html = select_template(["recommender/search/box.html"]).render(
        {
            "action": action,
            "placeholder": placeholder,
            "limit": int(limit),
            "name": name,
            "label": label,
            "value": clean_query(value, int(app_settings.SEARCH_MAX_QUERY_LENGTH)),
            "input_id": ident,
            "listbox_id": f"{ident}-listbox",
            "suggest_url": suggest_url(),
        },
        request,
    )
    return mark_safe(html)


def _int(value: str | None, default: int = 0) -> int:
    try:
        return max(0, int(value)) if value not in (None, "") else default
    except ValueError:
        return default


_PRICE_NAMES = {
    "min_price": gettext_lazy("The minimum price was ignored: %(reason)s"),
    "max_price": gettext_lazy("The maximum price was ignored: %(reason)s"),
}


def _filters(params: Any) -> tuple[SearchFilters, list[str]]:
    """The query string's filters and a notice per unusable one (left out: never an error page)."""
    from recommender.search import SearchFilters

    prices, notices = {}, []
    for field, label in _PRICE_NAMES.items():
        try:
            prices[field] = parse_price(params.get(field), field)
        except FilterError as exc:
            prices[field] = None
            notices.append(label % {"reason": exc.message})
    filters = SearchFilters(categories=tuple(c for c in params.getlist("category") if c), **prices)
    return filters, notices


@register.simple_tag(takes_context=True)
def search_results(context: template.Context, limit: int = DEFAULT_RESULTS, template: str = "") -> SafeString:
    """Search the request's ``q`` (or its uploaded ``image``), with its filters; render one page of results."""
    from recommender.search import (
        EmptyQuery,
        ImageSearchError,
        SearchUnavailable,
        related_searches,
        search,
        search_by_image,
    )

    request = context.get("request")
    if request is None:
        return mark_safe("")
    params = request.GET
    raw_query = params.get("q", "")
    query = clean_query(raw_query, int(app_settings.SEARCH_MAX_QUERY_LENGTH))
    results, related, error, upload = None, [], "", None
    filters, notices = _filters(params)
    try:
        upload = request.FILES.get("image") if request.method == "POST" else None
        with transaction.atomic():  # a savepoint: a failed query must not poison the page's transaction
            if upload is not None:
                query = ""
                results = search_by_image(upload, filters=filters, limit=int(limit), request=request)
            elif raw_query.strip():
                results = search(
                    raw_query, filters=filters, limit=int(limit), offset=_int(params.get("offset")), request=request
                )
                related = related_searches(raw_query)
    except EmptyQuery:
        results = None
    except ImageSearchError as exc:
        error = gettext("This file cannot be searched: %(reason)s.") % {"reason": exc.reason}
    except SearchUnavailable:
        error = gettext("Search by image is unavailable right now.")
    except Exception:
        if app_settings.TEMPLATE_ERRORS_RAISE:
            raise
        logger.exception("Search results for %r failed; rendering a message instead.", query[:100])
        results, related, error = None, [], UNAVAILABLE
    names = [str(template)] if template else []
    html = select_template([*names, "recommender/search/results.html"]).render(
        {
            "results": results,
            "query": query,
            "related": related,
            "cards": _cards(results) if results else [],
            "by_image": upload is not None,
            "error": error,
            "notices": notices,
        },
        request,
    )
    return mark_safe(html)


@register.simple_tag(takes_context=True)
def search_image_form(
    context: template.Context, action: str = "", label: str = gettext_lazy("Search by image")
) -> SafeString:
    """A form that posts a photo (field ``image``) to ``action`` (default: this page) for ``search_results``."""
    html = select_template(["recommender/search/image_form.html"]).render(
        {"action": action, "label": label, "input_id": f"recommender-image-search-{next(_ids)}"},
        context.get("request"),
    )
    return mark_safe(html)


def _cards(results: Any) -> list[dict[str, Any]]:
    from recommender.catalog import get_adapter

    adapter = get_adapter()
    cards = []
    for product in results.products():
        image = adapter.image(product)
        try:
            image_url = image.url if hasattr(image, "url") else ""
        except ValueError:  # a FieldFile without a file
            image_url = ""
        url = adapter.url(product) or ""
        hit = product.search_hit
        cards.append(
            {
                "key": hit.product_key,
                "position": hit.position,
                "title": adapter.title(product),
                "url": url,
                "image_url": image_url,
                "price": adapter.price(product),
                "product": product,
            }
        )
    return cards


@register.simple_tag(takes_context=True)
def search_url(context: template.Context, **changes: Any) -> str:
    """This page's query string with some parameters changed (``None`` or '' removes one).

    ``{% search_url offset=results.next_offset %}``, ``{% search_url category=facet.value offset=None %}``.
    """
    request = context.get("request")
    params = request.GET.copy() if request is not None else None
    if params is None:
        return "?"
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + params.urlencode()
