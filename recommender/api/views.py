"""The endpoints: validate input, call ``recommend()`` / ``record_event()``, shape the reply.

Each view fixes its own schema class, permissions, parsers and renderers, so the host's
``REST_FRAMEWORK`` defaults (say, ``IsAuthenticated`` everywhere) do not change what
anonymous shoppers get; authentication classes are the host's (session by default).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from recommender.api import schema as docs
from recommender.api.exceptions import ExceptionHandler, with_database_outage_handling
from recommender.api.lookups import product_key_or_404, reader
from recommender.api.parsers import LimitedJSONParser
from recommender.api.permissions import MayReadNamedUser
from recommender.api.results import result_rows
from recommender.api.serializers import (
    EventBatchInputSerializer,
    EventBatchSerializer,
    EventInputSerializer,
    EventSerializer,
    PersonalQuerySerializer,
    RecommendationQuerySerializer,
    RecommendationsSerializer,
)
from recommender.api.throttling import EVENT_THROTTLE_SCOPE, with_event_throttle
from recommender.events import (
    EventError,
    build_events,
    check_batch_size,
    record_event,
    records_events,
    shopper,
    store_events,
)
from recommender.experiments.assignment import PREVIEW_PARAMETER, UnknownVariant
from recommender.models import ProfileAccessLog
from recommender.recommend import recommend
from recommender.slots import is_known_slot


class CrossSiteEvent(PermissionDenied):
    default_detail = (
        "Events from requests another site caused (Sec-Fetch-Site: cross-site) are not recorded. A shop whose "
        "pages live on another site than this API sets RECOMMENDER['RECORD_CROSS_SITE_EVENTS'] = True."
    )
    default_code = "cross_site"


class PreviewForbidden(PermissionDenied):
    default_detail = format_lazy(
        gettext_lazy("Only staff may force an experiment variant with ?{parameter}=."), parameter=PREVIEW_PARAMETER
    )
    default_code = "preview_forbidden"


def preview_variant(request: Request) -> str | None:
    """The forced variant of a staff preview (None when not asked); 403 for anyone else."""
    value = request.query_params.get(PREVIEW_PARAMETER)
    if value is None:
        return None
    if not getattr(request.user, "is_staff", False):
        raise PreviewForbidden()
    return value


def validated(serializer_class: type[Serializer], data: Any, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ApiView(APIView):
    """What every endpoint shares (and what the schema hook recognises as ours)."""

    schema = docs.RecommenderSchema()
    permission_classes = (AllowAny,)  # anonymous shoppers are first-class; privacy is per owner
    renderer_classes = (JSONRenderer,)
    parser_classes = (LimitedJSONParser,)
    operation_id: ClassVar[str] = ""

    def get_exception_handler(self) -> ExceptionHandler:
        # The host's handler, but a database outage answers 503 + Retry-After (api/exceptions.py).
        return with_database_outage_handling(super().get_exception_handler())


class RecommendationView(ApiView):
    """GET one strategy's recommendations; records an impression for the slot."""

    strategy: ClassVar[str] = ""
    query_serializer_class: ClassVar[type[Serializer]] = RecommendationQuerySerializer
    # Whose results a permitted reader asked for with ?user= (set by MayReadNamedUser).
    named_user: Any = None

    def get(self, request: Request, product_id: str | None = None) -> Response:
        params = validated(self.query_serializer_class, request.query_params, request)
        product_key = product_key_or_404(product_id) if product_id is not None else ""
        user, session_key = reader(request, self.named_user)
        if self.named_user is not None:  # logged before anything is served: no read goes unrecorded
            ProfileAccessLog.record(request.user, self.named_user, self.strategy)
        try:
            recs = recommend(
                self.strategy,
                product_key=product_key,
                user=user,
                session_key=session_key,
                limit=params["limit"],
                slot=params["slot"],
                categories=params["category"],
                # Only declared slots count (recommender/slots.py); support staff looking is no impression.
                record_impression=self.named_user is None and is_known_slot(params["slot"]),
                preview_variant=preview_variant(request),
            )
        except UnknownVariant as exc:
            raise ValidationError({PREVIEW_PARAMETER: [str(exc)]}) from exc
        body = {"strategy": recs.strategy, "results": result_rows(recs), "variant": recs.variant or None}
        return Response(RecommendationsSerializer(body).data)


class PersonalRecommendationView(RecommendationView):
    # AllowAny stays listed so the schema says authentication is optional here.
    permission_classes = (AllowAny, MayReadNamedUser)
    query_serializer_class = PersonalQuerySerializer


PRODUCT_ID = OpenApiParameter(
    "product_id", str, OpenApiParameter.PATH, description="The product's key (its primary key as a string)."
)


PREVIEW = OpenApiParameter(
    PREVIEW_PARAMETER,
    str,
    OpenApiParameter.QUERY,
    required=False,
    description="Staff only (403 for others): force this experiment variant (name or id) on the slot; an unknown "
    "variant is a 400. Previews count no exposure.",
)


def recommendation_schema(summary: str, description: str, *, product: bool = False, personal: bool = False) -> Any:
    """extend_schema for a recommendation endpoint: its parameters and every response it can give."""
    responses: dict[int, Any] = {
        200: RecommendationsSerializer,
        400: docs.BAD_PARAMETERS,
        403: docs.FORBIDDEN_USER if personal else docs.BAD_CREDENTIALS,
    }
    parameters: list[Any] = [PersonalQuerySerializer if personal else RecommendationQuerySerializer, PREVIEW]
    if product:
        responses[404] = docs.NOT_FOUND
        parameters.append(PRODUCT_ID)
    return extend_schema(
        summary=summary,
        description=description,
        tags=["recommendations"],
        parameters=parameters,
        responses=responses,
    )


@recommendation_schema(
    "Similar products", "Nearest products in the image/text vector space, filtered and ranked.", product=True
)
class SimilarView(RecommendationView):
    strategy = "similar"
    operation_id = "recommender_similar"


@recommendation_schema(
    "Bought together", "Products bought by the same shoppers as this one (minimum support applies).", product=True
)
class BoughtTogetherView(RecommendationView):
    strategy = "bought_together"
    operation_id = "recommender_bought_together"


@recommendation_schema("Also viewed", "Products viewed by the shoppers who viewed this one.", product=True)
class AlsoViewedView(RecommendationView):
    strategy = "also_viewed"
    operation_id = "recommender_also_viewed"


@recommendation_schema("Trending", "Time-decayed popularity across the shop.")
class TrendingView(RecommendationView):
    strategy = "trending"
    operation_id = "recommender_trending"


@recommendation_schema(
    "Recommended for you",
    "Nearest products to the shopper's profile (their user, else their anonymous session); "
    "trending products for a shopper without history.",
    personal=True,
)
class ForYouView(PersonalRecommendationView):
    strategy = "for_you"
    operation_id = "recommender_for_you"


@recommendation_schema("Recently viewed", "The shopper's own recently viewed products, newest first.", personal=True)
class RecentlyViewedView(PersonalRecommendationView):
    strategy = "recently_viewed"
    operation_id = "recommender_recently_viewed"


@extend_schema(
    summary="Record a shopper event",
    description=(
        "Stores a view, click, add_to_cart, purchase or search of the current shopper: the logged-in user, "
        'else the anonymous session (created when the request has none). A body {"events": [...]} carries '
        "a batch of up to RECOMMENDER['EVENTS_MAX_BATCH'] (default 50) events, each validated as a single one "
        'and stored all or none: one bad event is a 400 that names it ("Event 2 (product_id): ...") and '
        "stores nothing; a 201 (answered after the transaction commits) lists the stored events in order. "
        "Requests authenticated by the "
        "session cookie must send Django's CSRF token in the X-CSRFToken header. Throttled per user or "
        'client IP (scope "recommender-events", default 120/min, counting the events of a batch). Requests a '
        'browser marks "Sec-Fetch-Site: cross-site" are refused (403) unless RECORD_CROSS_SITE_EVENTS is set.'
    ),
    tags=["events"],
    request=PolymorphicProxySerializer(
        component_name="EventOrBatchInput",
        serializers=[EventInputSerializer, EventBatchInputSerializer],
        resource_type_field_name=None,
    ),
    parameters=[
        OpenApiParameter(
            "X-CSRFToken",
            str,
            OpenApiParameter.HEADER,
            required=False,
            description="The csrftoken cookie's value; required for logged-in shoppers (session authentication).",
        )
    ],
    responses={
        201: PolymorphicProxySerializer(
            component_name="EventOrBatch",
            serializers=[EventSerializer, EventBatchSerializer],
            resource_type_field_name=None,
        ),
        400: docs.BAD_BODY,
        403: docs.CSRF_FAILED,
        413: docs.TOO_LARGE,
        415: docs.UNSUPPORTED,
        429: docs.THROTTLED,
    },
)
class EventView(ApiView):
    """POST an event of the current shopper."""

    throttle_scope = EVENT_THROTTLE_SCOPE
    operation_id = "recommender_record_event"

    def get_throttles(self) -> list[BaseThrottle]:
        return with_event_throttle(super().get_throttles())

    def post(self, request: Request) -> Response:
        if not records_events(request):  # before anything else: no session for another site's visitor
            raise CrossSiteEvent()
        if is_batch(request.data):
            return self.post_batch(request, request.data["events"])
        data = validated(EventInputSerializer, request.data, request)
        user, session_key = shopper(request)  # gives an anonymous shopper an id, and so a session
        try:
            event = record_event(user=user, session_key=session_key, **event_keywords(data))
        except EventError as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        return Response(EventSerializer(event).data, status=status.HTTP_201_CREATED)

    def post_batch(self, request: Request, items: Any) -> Response:
        """Validate every event (naming each bad one), then store them all in one statement or none."""
        if not isinstance(items, list):
            raise ValidationError({"events": ["Expected a list of events."]})
        try:
            check_batch_size(len(items))
        except EventError as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        problems: dict[int, list[tuple[str, str]]] = {}
        valid: list[tuple[int, dict[str, Any]]] = []
        child = EventInputSerializer(context={"request": request})  # one set of fields for all (as many=True)
        for index, item in enumerate(items):
            try:
                valid.append((index, event_keywords(child.run_validation(item))))
            except ValidationError as exc:
                problems[index] = [(str(f), str(m)) for f, ms in as_field_errors(exc.detail).items() for m in ms]
        user, session_key = shopper(request)  # gives an anonymous shopper an id, and so a session
        built, errors = build_events([kw for _, kw in valid], user=user, session_key=session_key)
        for position, exc in errors.items():
            problems[valid[position][0]] = [(exc.field, exc.message)]
        if problems:
            raise ValidationError(
                {
                    "events": [
                        gettext("Event %(number)d (%(field)s): %(message)s")
                        % {"number": i + 1, "field": f, "message": m}
                        for i in sorted(problems)
                        for f, m in problems[i]
                    ]
                }
            )
        stored = store_events(built, user=user, session_key=session_key, request=request)
        return Response(EventBatchSerializer({"events": stored}).data, status=status.HTTP_201_CREATED)


def is_batch(data: Any) -> bool:
    """A batch body is an object with an ``events`` key (a single event has a ``type``)."""
    return isinstance(data, dict) and "events" in data


def as_field_errors(detail: Any) -> dict[str, list[Any]]:
    """A serializer's error detail as {field: [messages]} (a non-object item has no field)."""
    if isinstance(detail, dict):
        return {field: messages if isinstance(messages, list) else [messages] for field, messages in detail.items()}
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def event_keywords(data: dict[str, Any]) -> dict[str, Any]:
    """``record_event``'s keywords from a validated EventInputSerializer."""
    return {
        "type": data["type"],
        "product_key": data["product_id"],
        "query": data["query"],
        "result_count": data["result_count"],
        "slot": data["slot"],
        "strategy": data["strategy"],
        "quantity": data["quantity"],
    }
