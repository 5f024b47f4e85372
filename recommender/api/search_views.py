"""Search endpoints: text search, search by image, suggestions (DRF, documented with drf-spectacular).

    GET  search/?q=&limit=&offset=&category=&min_price=&max_price=&in_stock=
    POST search/image/        (multipart, field "image"; the same filters as query parameters)
    GET  suggest/?q=&limit=

Input is validated here and handed to ``recommender.search``; every 400 has the API's one shape,
``{"field": ["message", ...]}``. Queries longer than ``SEARCH_MAX_QUERY_LENGTH`` are cut, not
refused. Every text search writes a search-log row; a shopper with a user or a session also gets
a search event (with its query; a search by image: an empty query and strategy "image"), but a
search never creates a session. Each endpoint has its own throttle scope
(``recommender.api.search_throttling``: 429 with ``Retry-After`` beyond it). The serializers
live with the rest of the API's in ``recommender.api.serializers``.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from recommender.api import schema as docs
from recommender.api.results import product_url
from recommender.api.search_throttling import IMAGE_SCOPE, SEARCH_SCOPE, SUGGEST_SCOPE, with_search_throttle
from recommender.api.serializers import (
    ImageSearchSerializer,
    SearchFilterSerializer,
    SearchParamsSerializer,
    SearchResponseSerializer,
    SuggestParamsSerializer,
    SuggestResponseSerializer,
)
from recommender.api.views import ApiView, validated
from recommender.catalog import get_adapter
from recommender.search import (
    EmptyQuery,
    ImageSearchError,
    SearchFilters,
    SearchResults,
    SearchUnavailable,
    search,
    search_by_image,
    suggest,
)


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = gettext_lazy("Search by image is unavailable.")
    default_code = "unavailable"


UNAVAILABLE = OpenApiResponse(docs.DETAIL, description="No encoder to embed the image (nothing indexed yet).")


# --- helpers ---------------------------------------------------------------------------------


def _params(query: QueryDict) -> dict[str, Any]:
    """Query parameters as a plain dict (category as a list), so missing booleans keep their default."""
    data: dict[str, Any] = {key: query.get(key) for key in query}
    if "category" in query:
        data["category"] = query.getlist("category")
    return data


def _filters(params: dict[str, Any]) -> SearchFilters:
    return SearchFilters(
        categories=tuple(params["category"]),
        min_price=params["min_price"],
        max_price=params["max_price"],
        in_stock=params["in_stock"],
    )


def response_body(results: SearchResults) -> dict[str, Any]:
    """The search reply: each hit (with its position and reason) joined with the catalog's title,
    price, category and URL."""
    adapter = get_adapter()
    products = {adapter.key(p): p for p in adapter.products_by_keys(results.keys)}
    rows = []
    for hit in results.hits:
        product = products.get(hit.product_key)
        if product is None:  # deleted since it was indexed
            continue
        price = adapter.price(product)
        rows.append(
            {
                "product_id": hit.product_key,
                "score": hit.score,
                "reason": hit.reason,
                "position": hit.position,
                "title": adapter.title(product),
                "price": None if price is None else str(price),
                "category": adapter.category(product),
                "url": product_url(product),
            }
        )
    return {
        "strategy": results.strategy,
        "total": results.total,
        "results": rows,
        "facets": results.facets,
        "did_you_mean": results.did_you_mean,
    }


# --- views -----------------------------------------------------------------------------------


class ThrottledSearchView(ApiView):
    """A search endpoint throttled under its own scope (``throttle_scope``)."""

    def get_throttles(self) -> list[BaseThrottle]:
        return with_search_throttle(super().get_throttles())


@extend_schema(
    summary="Search products",
    description=(
        "Hybrid search: the query's CLIP text vector, Postgres full text (with synonyms, colour words and "
        "spelling correction) and trigram similarity, fused by reciprocal rank; filtered, with facets and "
        "paging. Writes a search-log row, and a search event for a shopper with a user or session (none is "
        'created). Throttled per user or client IP (scope "recommender-search", default 60/min).'
    ),
    tags=["search"],
    parameters=[SearchParamsSerializer],
    responses={200: SearchResponseSerializer, 400: docs.BAD_PARAMETERS, 429: docs.SEARCH_THROTTLED},
)
class SearchView(ThrottledSearchView):
    operation_id = "recommender_search"
    throttle_scope = SEARCH_SCOPE

    def get(self, request: Request) -> Response:
        params = validated(SearchParamsSerializer, _params(request.query_params), request)
        try:
            results = search(
                params["q"], filters=_filters(params), limit=params["limit"], offset=params["offset"], request=request
            )
        except EmptyQuery as exc:
            raise ValidationError({"q": [str(exc)]}) from exc
        return Response(SearchResponseSerializer(response_body(results)).data)


@extend_schema(
    summary="Search products by image",
    description=(
        "Upload a photo (multipart/form-data, field `image`); products whose image and fused vectors are "
        "nearest come back in the search reply's shape. Filters and paging are query parameters. An empty, "
        "corrupt, truncated or oversized file is a 400 that says why. Records a search event (empty query, "
        'strategy "image") for a shopper with a user or session. Throttled per user or client IP '
        '(scope "recommender-search-image", default 10/min).'
    ),
    tags=["search"],
    parameters=[SearchFilterSerializer],
    request={"multipart/form-data": ImageSearchSerializer},
    responses={
        200: SearchResponseSerializer,
        400: docs.BAD_PARAMETERS,
        415: docs.UNSUPPORTED,
        429: docs.SEARCH_THROTTLED,
        503: UNAVAILABLE,
    },
)
class ImageSearchView(ThrottledSearchView):
    operation_id = "recommender_search_image"
    throttle_scope = IMAGE_SCOPE
    parser_classes = (MultiPartParser, FormParser)

    def post(self, request: Request) -> Response:
        params = validated(SearchFilterSerializer, _params(request.query_params), request)
        upload = validated(ImageSearchSerializer, request.data, request)["image"]
        try:  # an oversized upload is refused unread (ImageSearchError)
            results = search_by_image(
                upload, filters=_filters(params), limit=params["limit"], offset=params["offset"], request=request
            )
        except ImageSearchError as exc:
            raise ValidationError({"image": [exc.reason]}) from exc
        except SearchUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from exc
        return Response(SearchResponseSerializer(response_body(results)).data)


@extend_schema(
    summary="Search suggestions",
    description=(
        "Completions for what the shopper typed: popular searches (only those searched by enough distinct "
        "shoppers, that led to a click or purchase and that moderation allows), categories, colour + category "
        "phrases and product names; prefix matches first, then fuzzy ones. Throttled per user or client IP "
        '(scope "recommender-suggest", default 300/min).'
    ),
    tags=["search"],
    parameters=[SuggestParamsSerializer],
    responses={200: SuggestResponseSerializer, 400: docs.BAD_PARAMETERS, 429: docs.SEARCH_THROTTLED},
)
class SuggestView(ThrottledSearchView):
    operation_id = "recommender_suggest"
    throttle_scope = SUGGEST_SCOPE

    def get(self, request: Request) -> Response:
        params = validated(SuggestParamsSerializer, _params(request.query_params), request)
        rows = [{"text": s.text, "kind": s.kind} for s in suggest(params["q"], limit=params["limit"])]
        return Response(SuggestResponseSerializer({"suggestions": rows}).data)
