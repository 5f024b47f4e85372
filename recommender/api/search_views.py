"""Search endpoints: text search, search by image, suggestions (DRF, documented with drf-spectacular).

    GET  search/?q=&limit=&offset=&category=&min_price=&max_price=&in_stock=
    POST search/image/        (multipart, field "image"; the same filters as query parameters)
    GET  suggest/?q=&limit=

Input is validated here and handed to ``recommender.search``; every 400 has the API's one shape,
``{"field": ["message", ...]}``. Queries longer than ``SEARCH_MAX_QUERY_LENGTH`` are cut, not
refused. A text search records a search event and a search-log row for the current shopper (an
anonymous shopper gets an id in their session, as with the event endpoint).
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from recommender.api import schema as docs
from recommender.api.results import product_url
from recommender.api.serializers import MAX_CATEGORIES, MAX_CATEGORY_LENGTH, FlatListField
from recommender.api.views import ApiView, validated
from recommender.catalog import get_adapter
from recommender.conf import app_settings
from recommender.models.suggestions import SuggestionPhrase
from recommender.search import (
    MAX_LIMIT,
    MAX_OFFSET,
    EmptyQuery,
    ImageSearchError,
    SearchFilters,
    SearchResults,
    SearchUnavailable,
    search,
    search_by_image,
    suggest,
)
from recommender.search.suggestions import MAX_SUGGESTIONS

DEFAULT_LIMIT = 20
DEFAULT_SUGGESTIONS = 8
PRICE_DIGITS = 12
PRICE_PLACES = 4


# --- input -----------------------------------------------------------------------------------


class CappedIntegerField(serializers.IntegerField):
    """A positive integer capped at ``cap`` (as the Python API caps it) instead of refused."""

    def __init__(self, *, cap: int, **kwargs: Any) -> None:
        self.cap = cap
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        return min(super().to_internal_value(data), self.cap)


class SearchFilterSerializer(serializers.Serializer):
    limit = CappedIntegerField(
        cap=MAX_LIMIT, required=False, default=DEFAULT_LIMIT, min_value=1,
        help_text=f"Results per page, default {DEFAULT_LIMIT}; values above {MAX_LIMIT} are capped.",
    )  # fmt: skip
    offset = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=MAX_OFFSET, help_text="Results to skip (paging)."
    )
    category = FlatListField(
        child=serializers.CharField(max_length=MAX_CATEGORY_LENGTH, allow_blank=True),
        required=False, default=list, max_length=MAX_CATEGORIES,
        help_text="Only products of these categories (repeat the parameter for several).",
    )  # fmt: skip
    min_price = serializers.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, min_value=0, required=False, allow_null=True,
        default=None, help_text="Lowest price (inclusive).",
    )  # fmt: skip
    max_price = serializers.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, min_value=0, required=False, allow_null=True,
        default=None, help_text="Highest price (inclusive).",
    )  # fmt: skip
    in_stock = serializers.BooleanField(
        required=False, default=True, help_text="Only products in stock (default true); false also shows sold-out ones."
    )

    def validate_category(self, value: list[str]) -> list[str]:
        return [c for c in value if c]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise ValidationError({"max_price": ["Must not be below min_price."]})
        return attrs


class SearchParamsSerializer(SearchFilterSerializer):
    q = serializers.CharField(
        trim_whitespace=True,
        help_text='The search text, in websearch syntax ("exact phrase", -excluded). Longer texts are cut to '
        "SEARCH_MAX_QUERY_LENGTH characters (default 200), not refused.",
    )


class ImageSearchSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="A photo (JPEG, PNG, WebP…); products that look like it are returned.")


class SuggestParamsSerializer(serializers.Serializer):
    q = serializers.CharField(trim_whitespace=True, help_text="What the shopper typed so far.")
    limit = CappedIntegerField(
        cap=MAX_SUGGESTIONS, required=False, default=DEFAULT_SUGGESTIONS, min_value=1,
        help_text=f"How many suggestions, default {DEFAULT_SUGGESTIONS}; values above {MAX_SUGGESTIONS} are capped.",
    )  # fmt: skip


# --- output ----------------------------------------------------------------------------------


class SearchResultSerializer(serializers.Serializer):
    product_id = serializers.CharField(help_text="The product's key (its primary key as a string).")
    score = serializers.FloatField(help_text="Fused relevance; higher is better (pinned products: 1e9).")
    title = serializers.CharField(allow_blank=True)
    price = serializers.CharField(allow_null=True, help_text='A decimal as a string ("19.99"); null when unknown.')
    category = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_null=True, help_text="The product's get_absolute_url(); null when it has none.")


class SearchResponseSerializer(serializers.Serializer):
    strategy = serializers.CharField(help_text='Always "search".')
    total = serializers.IntegerField(help_text="Results over all pages (the fused candidates, at most a few hundred).")
    results = SearchResultSerializer(many=True)
    facets = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField()),
        help_text='Counts over all results: "category" [{value, count}], "price" [{min, max, count}] '
        "(max null = and above), and any SEARCH_FACET_ATTRIBUTES facet [{value, count}].",
    )
    did_you_mean = serializers.CharField(
        allow_null=True, help_text="A corrected query when the query as typed found few products, else null."
    )


class SuggestionSerializer(serializers.Serializer):
    text = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=[SuggestionPhrase.Kind.QUERY, SuggestionPhrase.Kind.PRODUCT, SuggestionPhrase.Kind.CATEGORY],
        help_text="query: a popular search; product: a product name; category: a category or colour + category.",
    )


class SuggestResponseSerializer(serializers.Serializer):
    suggestions = SuggestionSerializer(many=True)


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Search by image is unavailable."
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
        categories=tuple(params["category"]), min_price=params["min_price"], max_price=params["max_price"],
        in_stock=params["in_stock"],
    )  # fmt: skip


def response_body(results: SearchResults) -> dict[str, Any]:
    """The search reply: each hit joined with the catalog's title, price, category and URL."""
    adapter = get_adapter()
    products = {adapter.key(p): p for p in adapter.products_by_keys(results.keys)}
    rows = []
    for hit in results.hits:
        product = products.get(hit.product_key)
        if product is None:  # deleted since it was indexed
            continue
        price = adapter.price(product)
        rows.append({
            "product_id": hit.product_key, "score": hit.score, "title": adapter.title(product),
            "price": None if price is None else str(price), "category": adapter.category(product),
            "url": product_url(product),
        })  # fmt: skip
    return {
        "strategy": results.strategy, "total": results.total, "results": rows, "facets": results.facets,
        "did_you_mean": results.did_you_mean,
    }  # fmt: skip


# --- views -----------------------------------------------------------------------------------


@extend_schema(
    summary="Search products",
    description=(
        "Hybrid search: the query's CLIP text vector, Postgres full text (with synonyms, colour words and "
        "spelling correction) and trigram similarity, fused by reciprocal rank; filtered, with facets and "
        "paging. Records a search event and a search-log row for the current shopper."
    ),
    tags=["search"],
    parameters=[SearchParamsSerializer],
    responses={200: SearchResponseSerializer, 400: docs.BAD_PARAMETERS},
)
class SearchView(ApiView):
    operation_id = "recommender_search"

    def get(self, request: Request) -> Response:
        params = validated(SearchParamsSerializer, _params(request.query_params), request)
        try:
            results = search(params["q"], filters=_filters(params), limit=params["limit"], offset=params["offset"],
                             request=request)  # fmt: skip
        except EmptyQuery as exc:
            raise ValidationError({"q": [str(exc)]}) from exc
        return Response(SearchResponseSerializer(response_body(results)).data)


@extend_schema(
    summary="Search products by image",
    description=(
        "Upload a photo (multipart/form-data, field `image`); products whose image and fused vectors are "
        "nearest come back in the search reply's shape. Filters and paging are query parameters. An empty, "
        "corrupt, truncated or oversized file is a 400 that says why."
    ),
    tags=["search"],
    parameters=[SearchFilterSerializer],
    request={"multipart/form-data": ImageSearchSerializer},
    responses={200: SearchResponseSerializer, 400: docs.BAD_PARAMETERS, 415: docs.UNSUPPORTED, 503: UNAVAILABLE},
)
class ImageSearchView(ApiView):
    operation_id = "recommender_search_image"
    parser_classes = [MultiPartParser, FormParser]

    def post(self, request: Request) -> Response:
        params = validated(SearchFilterSerializer, _params(request.query_params), request)
        upload = validated(ImageSearchSerializer, request.data, request)["image"]
        if upload.size is not None and upload.size > int(app_settings.SEARCH_MAX_IMAGE_BYTES):
            raise ValidationError(
                {"image": [f"image too large: more than {app_settings.SEARCH_MAX_IMAGE_BYTES} bytes"]}
            )
        try:
            results = search_by_image(upload, filters=_filters(params), limit=params["limit"], offset=params["offset"])
        except ImageSearchError as exc:
            raise ValidationError({"image": [exc.reason]}) from exc
        except SearchUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from exc
        return Response(SearchResponseSerializer(response_body(results)).data)


@extend_schema(
    summary="Search suggestions",
    description=(
        "Completions for what the shopper typed: popular searches (only those searched by enough distinct "
        "sessions and that led to a click or purchase), categories, colour + category phrases and product "
        "names; prefix matches first, then fuzzy ones."
    ),
    tags=["search"],
    parameters=[SuggestParamsSerializer],
    responses={200: SuggestResponseSerializer, 400: docs.BAD_PARAMETERS},
)
class SuggestView(ApiView):
    operation_id = "recommender_suggest"

    def get(self, request: Request) -> Response:
        params = validated(SuggestParamsSerializer, _params(request.query_params), request)
        rows = [{"text": s.text, "kind": s.kind} for s in suggest(params["q"], limit=params["limit"])]
        return Response(SuggestResponseSerializer({"suggestions": rows}).data)
