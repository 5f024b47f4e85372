"""Template tags that put recommendations on a shop's pages.

    {% load recommender_tags %}
    {% similar_products product limit=8 %}
    {% recommended_for_you limit=8 slot="home" title="Picked for you" %}
    {% frequently_bought_together product %}   {% customers_also_viewed product %}
    {% trending_products limit=12 %}            {% recently_viewed %}
    {% similar_products product limit=4 as similar %}{% for p in similar %}…{% endfor %}
    {% recently_viewed exclude=product %}       (leave the current product out)
    {% record_view product %}                   (a product page view; renders nothing)
    {% recommender_beacon %}                    (click/view beacon script)
    {% recommender_styles %}                    (in <head>: the slots' stylesheet)

Each rendered slot counts impressions and marks its links (``data-rec-*``) so the beacon can
attribute clicks. On a product page, "for you", trending and recently viewed leave out the
product that ``{% record_view %}`` recorded earlier in the same request (or the one given as
``exclude=``). The first slot of a page links the slots' stylesheet (``RECOMMENDER["STYLESHEET"]``)
unless ``{% recommender_styles %}`` already did. The slot template is ``recommender/slots/<strategy>.html``, falling back to
``recommender/slot.html``: override either in your project. A failing recommender never breaks
the page: the slot renders empty and the error is logged (set
``RECOMMENDER["TEMPLATE_ERRORS_RAISE"] = True`` to raise instead while developing).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from django import template
from django.db import transaction
from django.middleware.csrf import get_token
from django.template.base import FilterExpression, Parser, Token, token_kwargs
from django.template.loader import select_template
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from recommender.catalog import get_adapter
from recommender.conf import app_settings
from recommender.experiments.assignment import UnknownVariant
from recommender.models import RecommenderSettings
from recommender.slot_fragments import is_app_template, rendered_slot

logger = logging.getLogger(__name__)
register = template.Library()

ALLOWED_OPTIONS = {"limit", "slot", "title", "category", "template", "exclude"}
# Where {% record_view %} leaves the page's product for the slots rendered after it.
CURRENT_PRODUCT_ATTR = "recommender_product_key"
DEFAULT_STYLESHEET = "recommender/recommender.css"
# Set on the request once the stylesheet is linked: one <link> per page, however many slots.
STYLESHEET_LINKED_ATTR = "recommender_stylesheet_linked"
DEFAULT_TITLES = {
    "similar": _("Similar products"),
    "for_you": _("Recommended for you"),
    "bought_together": _("Frequently bought together"),
    "also_viewed": _("Customers also viewed"),
    "trending": _("Trending now"),
    "recently_viewed": _("Recently viewed"),
}


@dataclass
class ProductCard:
    """What a slot template shows for one product (fields read through the catalog adapter)."""

    product: Any
    key: str
    title: str
    url: str
    image_url: str
    price: Any
    reason: str
    position: int
    score: float


def product_cards(products: list[Any]) -> list[ProductCard]:
    adapter = get_adapter()
    cards = []
    for product in products:
        rec = product.recommendation
        image = adapter.image(product)
        try:
            image_url = image.url if hasattr(image, "url") else ""
        except ValueError:  # a FieldFile with no file
            image_url = ""
        url = adapter.url(product) or ""
        cards.append(
            ProductCard(
                product,
                rec.product_key,
                adapter.title(product),
                url,
                image_url,
                adapter.price(product),
                rec.reason,
                rec.position,
                rec.score,
            )
        )
    return cards


def product_key_of(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, (str, int)):
        return str(value)
    return get_adapter().key(value)


def stylesheet_url() -> str:
    """URL of the slots' stylesheet from ``RECOMMENDER["STYLESHEET"]`` ("" when it is off)."""
    value = app_settings.STYLESHEET
    if value is True:
        return static(DEFAULT_STYLESHEET)
    if not value:
        return ""
    value = str(value)
    return value if value.startswith(("/", "http://", "https://")) else static(value)


def stylesheet_link(request: Any) -> str:
    """The stylesheet's ``<link>``, for the first caller on this request only ("" when off)."""
    url = stylesheet_url()
    if not url or getattr(request, STYLESHEET_LINKED_ATTR, False):
        return ""
    if request is not None:
        setattr(request, STYLESHEET_LINKED_ATTR, True)
    return format_html('<link rel="stylesheet" href="{}">', url)


class LazyStylesheetLink:
    """``stylesheet_link`` evaluated when a slot template renders it: an overriding template that
    leaves it out does not use up the page's one link."""

    def __init__(self, request: Any) -> None:
        self.request = request

    def __html__(self) -> str:
        return stylesheet_link(self.request)

    def __str__(self) -> str:
        return self.__html__()


def savepoint() -> AbstractContextManager[Any]:
    """A savepoint inside the page's transaction (``ATOMIC_REQUESTS``), so a failed query does not
    poison it; nothing in autocommit, where a failed statement poisons nothing and a transaction
    of its own would cost two more round trips (BEGIN, COMMIT) per slot."""
    return transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()


def current_product_key(request: Any) -> str:
    """The product ``{% record_view %}`` recorded on this request ("" when none)."""
    return str(getattr(request, CURRENT_PRODUCT_ATTR, "") or "")


class RecommendationNode(template.Node):
    def __init__(
        self,
        strategy: str,
        product: FilterExpression | None,
        options: dict[str, FilterExpression],
        asvar: str | None,
        *,
        product_slot: bool = True,
    ):
        self.strategy = strategy
        self.product = product
        self.options = options
        self.asvar = asvar
        self.product_slot = product_slot  # about a product; else about the shopper or the shop

    def _product_key(self, context: template.Context) -> str:
        key = product_key_of(self.product.resolve(context)) if self.product else ""
        if not key and not self.product_slot:
            # A shopper or shop slot on a product page: that product is left out.
            key = current_product_key(context.get("request"))
        return key

    def _recommend(self, context: template.Context, opts: dict[str, Any]) -> Any:
        from recommender.recommend import recommend

        request = context.get("request")
        arguments = {
            "product_key": self._product_key(context),
            "request": request,
            "limit": int(opts.get("limit") or 8),
            "slot": str(opts.get("slot") or self.strategy),
            "categories": [opts["category"]] if opts.get("category") else (),
            "exclude_keys": [product_key_of(opts["exclude"])] if opts.get("exclude") else (),
        }
        try:
            recs = recommend(self.strategy, record_impression=True, **arguments)
        except UnknownVariant as exc:
            # A staff preview (?rec_variant=) naming no variant of this slot: the page shows what
            # shoppers are served, uncounted (the API answers 400 with the same message).
            logger.warning("%s Showing the slot without the preview.", exc)
            recs = recommend(self.strategy, preview_variant="", record_impression=False, **arguments)
        return recs

    def render(self, context: template.Context) -> str:
        opts = {name: expr.resolve(context) for name, expr in self.options.items()}
        request = context.get("request")
        try:
            # A savepoint: a failed query must not poison the rest of the page's transaction
            # (ATOMIC_REQUESTS), so the other slots and the page itself still render.
            with savepoint():
                recs = self._recommend(context, opts)
                if self.asvar:
                    context[self.asvar] = recs.products()
                    return ""
                html = self._slot_html(recs, opts, request) if recs.items else ""
        except Exception:
            if app_settings.TEMPLATE_ERRORS_RAISE:
                raise
            logger.exception("Recommendation slot %r failed; rendering it empty.", self.strategy)
            if self.asvar:
                context[self.asvar] = []
            return ""
        return html

    def _slot_html(self, recs: Any, opts: dict[str, Any], request: Any) -> str:
        """The slot's template rendered with its cards; the app's own templates from the rendered
        slots cache when results are cached (``slot_fragments``)."""
        names = [f"recommender/slots/{self.strategy}.html", "recommender/slot.html"]
        if opts.get("template"):
            names.insert(0, str(opts["template"]))
        slot_template = select_template(names)
        data = {
            # The strategy that served (an experiment variant may change it): clicks count against it.
            "strategy": recs.strategy,
            "slot": recs.slot,
            "title": opts.get("title") or DEFAULT_TITLES[self.strategy],
        }
        if not is_app_template(slot_template):
            products = recs.products()
            if not products:
                return ""
            data.update(cards=product_cards(products), stylesheet_link=LazyStylesheetLink(request))
            return slot_template.render(data, request)

        def render() -> str:
            products = recs.products()
            # The app's templates read nothing of the request: no context processors to run.
            return (
                slot_template.render({**data, "cards": product_cards(products), "stylesheet_link": ""})
                if products
                else ""
            )

        timeout = RecommenderSettings.get().cache_seconds
        html = rendered_slot(slot_template, items=recs.items, timeout=timeout, render=render, **data)
        # The app's templates open with the stylesheet link: added here, for the page's first slot only.
        return mark_safe(stylesheet_link(request) + html) if html else ""


def _parse(parser: Parser, token: Token, strategy: str, needs_product: bool) -> RecommendationNode:
    bits = token.split_contents()
    tag = bits.pop(0)
    asvar = None
    if len(bits) >= 2 and bits[-2] == "as":
        asvar = bits[-1]
        bits = bits[:-2]
    elif bits and bits[-1] == "as":
        raise template.TemplateSyntaxError(f"'{tag}': 'as' needs a variable name, e.g. {{% {tag} ... as items %}}")
    product = None
    if needs_product:
        if not bits or "=" in bits[0]:
            raise template.TemplateSyntaxError(f"'{tag}' needs a product first: {{% {tag} product limit=8 %}}")
        product = parser.compile_filter(bits.pop(0))
    options = token_kwargs(bits, parser, support_legacy=False)
    if bits:
        raise template.TemplateSyntaxError(
            f"'{tag}' got unexpected arguments {bits!r}; options are name=value pairs: {', '.join(sorted(ALLOWED_OPTIONS))}"
        )
    unknown = set(options) - ALLOWED_OPTIONS
    if unknown:
        raise template.TemplateSyntaxError(
            f"'{tag}' does not take {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(ALLOWED_OPTIONS))}"
        )
    return RecommendationNode(strategy, product, options, asvar, product_slot=needs_product)


def _register(tag_name: str, strategy: str, needs_product: bool) -> None:
    def compile_tag(parser: Parser, token: Token) -> RecommendationNode:
        return _parse(parser, token, strategy, needs_product)

    compile_tag.__doc__ = f"Render the '{strategy}' recommendations slot (see module docstring)."
    register.tag(tag_name, compile_tag)


_register("similar_products", "similar", needs_product=True)
_register("recommended_for_you", "for_you", needs_product=False)
_register("frequently_bought_together", "bought_together", needs_product=True)
_register("customers_also_viewed", "also_viewed", needs_product=True)
_register("trending_products", "trending", needs_product=False)
_register("recently_viewed", "recently_viewed", needs_product=False)


@register.simple_tag(takes_context=True)
def record_view(context: template.Context, product: Any) -> str:
    """Record a product page view for the current shopper (renders nothing, never fails the page)."""
    from recommender.events import record_event

    request = context.get("request")
    if request is None:
        return ""
    try:
        key = product_key_of(product)
        setattr(request, CURRENT_PRODUCT_ATTR, key)  # the shopper and shop slots after this leave it out
        with savepoint():  # as for the slots
            # A product object is a product: no query to check that it exists. The profile update
            # never runs inside the page (queued, or left for the next "for you" read or beat).
            record_event(
                "view",
                request=request,
                product_key=key,
                check_product=isinstance(product, (str, int)),
                defer_profile=True,
            )
    except Exception:
        if app_settings.TEMPLATE_ERRORS_RAISE:
            raise
        logger.exception("Could not record a product view.")
    return ""


@register.simple_tag(takes_context=True)
def recommender_styles(context: template.Context) -> str:
    """The slots' stylesheet ``<link>`` for the page's ``<head>`` (slots then link nothing)."""
    return stylesheet_link(context.get("request"))


@register.simple_tag(takes_context=True)
def recommender_beacon(context: template.Context) -> str:
    """The click/view beacon script, pointed at the events endpoint; it sends a page's events
    in batches of up to ``EVENTS_MAX_BATCH``.

    Logged-in shoppers' events are session-authenticated, so the API checks CSRF: the beacon
    sends the ``csrftoken`` cookie's value, and this makes sure the response sets that cookie
    (``get_token``), also on pages without a form.
    """
    request = context.get("request")
    if request is not None:
        get_token(request)
    try:
        endpoint = reverse("recommender_api:events")
    except NoReverseMatch:
        endpoint = ""
    return format_html(
        '<script src="{}" data-endpoint="{}" data-max-batch="{}" defer></script>',
        static("recommender/beacon.js"),
        endpoint,
        int(app_settings.EVENTS_MAX_BATCH),
    )
