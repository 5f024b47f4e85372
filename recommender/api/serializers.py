"""What clients may send and what they get back; the schema is generated from these classes.

One module for the whole API: recommendations, events, search, search by image, suggestions.

Every 400 body has one shape, ``{"field": ["message", ...]}`` (errors of list items are
flattened into the list field's messages). Unknown query parameters and body fields are
ignored, like everywhere in DRF. Free text is cut to what storage holds rather than refused:
a 10 kB search query is stored as its first 500 characters.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty

from recommender.catalog import CatalogAdapter
from recommender.events import MAX_QUANTITY
from recommender.models import EventType
from recommender.models.suggestions import SuggestionPhrase
from recommender.recommend import MAX_LIMIT
from recommender.search import MAX_LIMIT as SEARCH_MAX_LIMIT
from recommender.search import MAX_OFFSET as SEARCH_MAX_OFFSET
from recommender.search.suggestions import MAX_SUGGESTIONS

DEFAULT_LIMIT = 8
SEARCH_DEFAULT_LIMIT = 20
DEFAULT_SUGGESTIONS = 8
# Prices as the filters accept them: up to 12 digits, 4 of them decimals.
PRICE_DIGITS = 12
PRICE_PLACES = 4
# Slot and strategy names are stored in 64-character columns (Event, SlotStat).
MAX_NAME_LENGTH = 64
MAX_CATEGORIES = 20
MAX_CATEGORY_LENGTH = 255
# Event.result_count is a PositiveIntegerField: a Postgres integer.
MAX_RESULT_COUNT = 2**31 - 1


class CappedIntegerField(serializers.IntegerField):
    """A positive integer capped at ``cap`` (as the Python API caps it) instead of refused."""

    def __init__(self, *, cap: int, **kwargs: Any) -> None:
        self.cap = cap
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        return min(super().to_internal_value(data), self.cap)


class FlatListField(serializers.ListField):
    """A ListField whose item errors are plain messages, keeping the one 400 shape."""

    def run_child_validation(self, data: list) -> list:
        try:
            return super().run_child_validation(data)
        except ValidationError as exc:
            details = exc.detail if isinstance(exc.detail, dict) else {0: exc.detail}
            raise ValidationError(
                [
                    gettext("Item %(number)d: %(message)s") % {"number": int(index) + 1, "message": message}
                    for index, messages in details.items()
                    for message in messages
                ]
            ) from exc


class CategoryListField(FlatListField):
    """The ``category`` filter: repeatable, blank values ignored."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField(max_length=MAX_CATEGORY_LENGTH, allow_blank=True))
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", list)
        kwargs.setdefault("max_length", MAX_CATEGORIES)
        kwargs.setdefault("help_text", "Only products of these categories (repeat the parameter for several).")
        super().__init__(**kwargs)

    def run_validation(self, data: Any = empty) -> list[str]:
        value = super().run_validation(data)
        return [c for c in value if c]


class NullAsBlankCharField(serializers.CharField):
    """Optional text where JSON ``null`` means "not given" (what JS clients send for empty values)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("default", "")
        super().__init__(**kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return True, ""
        return super().validate_empty_values(data)


class BlankAsNullCharField(serializers.CharField):
    """Output text that is ``null`` when empty (an event without a product has no product id)."""

    def to_representation(self, value: Any) -> str | None:
        return str(value) if value else None


# --- query parameters ------------------------------------------------------------------------


class RecommendationQuerySerializer(serializers.Serializer):
    limit = CappedIntegerField(
        cap=MAX_LIMIT,
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        help_text=f"How many results: a positive integer, default {DEFAULT_LIMIT}; values above {MAX_LIMIT} are capped.",
    )
    category = CategoryListField()
    slot = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=f'Where the results are shown, for impression statistics (default "api"; cut to {MAX_NAME_LENGTH} '
        'characters). Impressions count only for declared slots: "api", "search", RECOMMENDER["SLOTS"], the '
        "admin's default slots and slots the shop's template tags render; others are served but not counted.",
    )

    def validate_slot(self, value: str) -> str:
        return (value or "api")[:MAX_NAME_LENGTH]


class PersonalQuerySerializer(RecommendationQuerySerializer):
    user = serializers.CharField(
        required=False,
        help_text="Readers with the recommender.view_profile permission only: the id of the user whose results "
        "to show (every read is logged). Anyone else, and any unknown id, gets the same 403.",
    )  # checked and looked up by the view's permission class (api/permissions.py), before this


# --- recommendations -------------------------------------------------------------------------


class ProductCardSerializer(serializers.Serializer):
    """What every result says about its product (recommendations and search alike)."""

    product_id = serializers.CharField(help_text="The product's key (its primary key as a string).")
    title = serializers.CharField(allow_blank=True)
    price = serializers.CharField(allow_null=True, help_text='A decimal as a string ("19.99"); null when unknown.')
    category = serializers.CharField(allow_blank=True)
    url = serializers.CharField(
        allow_null=True, help_text='The product page (FIELDS["url"], else get_absolute_url()); null when it has none.'
    )


class RecommendationSerializer(ProductCardSerializer):
    score = serializers.FloatField(help_text="The strategy's score; higher is better (pinned products: 1e9).")
    reason = serializers.CharField(help_text='Why it is shown, for people: "Similar to …", "Because you viewed …".')
    position = serializers.IntegerField(min_value=1, help_text="1-based rank.")


class RecommendationsSerializer(serializers.Serializer):
    strategy = serializers.CharField(help_text='The strategy that produced the results ("similar", "for_you", …).')
    results = RecommendationSerializer(many=True)
    variant = serializers.CharField(
        allow_null=True,
        required=False,
        help_text="The experiment variant these results come from (null outside experiments).",
    )


# --- events ----------------------------------------------------------------------------------


class EventInputSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=EventType.choices)
    product_id = NullAsBlankCharField(
        max_length=CatalogAdapter.MAX_KEY_LENGTH,
        help_text="Required for view, click, add_to_cart and purchase; must be a known product.",
    )
    query = NullAsBlankCharField(
        trim_whitespace=False, help_text="The search text (required for search); cut to 500 characters."
    )
    slot = NullAsBlankCharField(
        help_text="Where a clicked product was shown (counts the click for that slot, up to the slot's impressions "
        "that day). Must be a declared slot (see the recommendation endpoints' slot parameter), else 400."
    )
    strategy = NullAsBlankCharField(help_text="The strategy that recommended a clicked product.")
    quantity = serializers.IntegerField(required=False, allow_null=True, default=1, min_value=1, max_value=MAX_QUANTITY)
    result_count = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=MAX_RESULT_COUNT,
        help_text="How many results a search returned.",
    )

    def validate_slot(self, value: str) -> str:
        return value[:MAX_NAME_LENGTH]

    def validate_quantity(self, value: int | None) -> int:
        return 1 if value is None else value

    def validate_strategy(self, value: str) -> str:
        return value[:MAX_NAME_LENGTH]


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=EventType.choices)
    product_id = BlankAsNullCharField(source="product_key", allow_null=True)
    created_at = serializers.DateTimeField()


class EventBatchInputSerializer(serializers.Serializer):
    """A batch of the shopper's events, stored all or none (for the schema; the view validates
    each item with EventInputSerializer to name the bad ones)."""

    events = EventInputSerializer(
        many=True,
        help_text="1 to RECOMMENDER['EVENTS_MAX_BATCH'] (default 50) events, each as in a single-event request.",
    )


class EventBatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True)


# --- search ----------------------------------------------------------------------------------


class SearchFilterSerializer(serializers.Serializer):
    """Filters and paging of a search, text or by image (query parameters)."""

    limit = CappedIntegerField(
        cap=SEARCH_MAX_LIMIT,
        required=False,
        default=SEARCH_DEFAULT_LIMIT,
        min_value=1,
        help_text=f"Results per page, default {SEARCH_DEFAULT_LIMIT}; values above {SEARCH_MAX_LIMIT} are capped.",
    )
    offset = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=SEARCH_MAX_OFFSET, help_text="Results to skip (paging)."
    )
    category = CategoryListField()
    min_price = serializers.DecimalField(
        max_digits=PRICE_DIGITS,
        decimal_places=PRICE_PLACES,
        min_value=0,
        required=False,
        allow_null=True,
        default=None,
        help_text="Lowest price (inclusive).",
    )
    max_price = serializers.DecimalField(
        max_digits=PRICE_DIGITS,
        decimal_places=PRICE_PLACES,
        min_value=0,
        required=False,
        allow_null=True,
        default=None,
        help_text="Highest price (inclusive).",
    )
    in_stock = serializers.BooleanField(
        required=False, default=True, help_text="Only products in stock (default true); false also shows sold-out ones."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise ValidationError({"max_price": [gettext("Must not be below min_price.")]})
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
        cap=MAX_SUGGESTIONS,
        required=False,
        default=DEFAULT_SUGGESTIONS,
        min_value=1,
        help_text=f"How many suggestions, default {DEFAULT_SUGGESTIONS}; values above {MAX_SUGGESTIONS} are capped.",
    )


class SearchResultSerializer(ProductCardSerializer):
    score = serializers.FloatField(help_text="Fused relevance; higher is better (pinned products: 1e9).")
    reason = serializers.CharField(
        help_text='Why it is shown, for people: "Matches “black dress” in the title", "Did you mean “black dress”? '
        'Matches it in the title", "Looks like “black dress”" (no word in common), "Similar to your photo".'
    )
    position = serializers.IntegerField(min_value=1, help_text="1-based rank over all pages (offset + index + 1).")


class SearchResponseSerializer(serializers.Serializer):
    strategy = serializers.CharField(help_text='Always "search".')
    total = serializers.IntegerField(help_text="Results over all pages (the fused candidates, at most a few hundred).")
    results = SearchResultSerializer(many=True)
    facets = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField()),
        help_text='Counts over all results: "category" [{value, count}], "price" [{min, max, count}] '
        "(max null = and above), and any SEARCH_FACET_ATTRIBUTES facet [{value, count}]. Disjunctive: a "
        "facet whose own filter is set counts the results without that filter (the other filters apply).",
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
