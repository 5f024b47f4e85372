"""The OpenAPI schema of these endpoints only, without touching the host's schema settings.

Views carry :class:`RecommenderSchema` themselves, so hosts need not point
``DEFAULT_SCHEMA_CLASS`` at drf-spectacular; :class:`RecommenderSchemaView` applies its own
settings (title, filter hook) for the duration of one generation only.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.views import SpectacularAPIView

from recommender import __version__

FIELD_ERRORS: dict[str, Any] = {
    "type": "object",
    "description": "Messages per offending field (query parameter or body field).",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"limit": ["Ensure this value is greater than or equal to 1."]},
}
DETAIL: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "example": {"detail": "Unknown product '42'."},
}

BAD_PARAMETERS = OpenApiResponse(FIELD_ERRORS, description="Invalid parameters, with a message per field.")
BAD_BODY = OpenApiResponse(
    {"anyOf": [FIELD_ERRORS, DETAIL]},
    description="Invalid event (messages per field) or a body that is not JSON (detail).",
)
BAD_CREDENTIALS = OpenApiResponse(DETAIL, description="Credentials were sent and are wrong.")
FORBIDDEN_USER = OpenApiResponse(
    DETAIL,
    description="?user= without the recommender.view_profile permission, or naming no existing user (one body "
    "for both), or wrong credentials.",
)
NOT_FOUND = OpenApiResponse(DETAIL, description="Unknown product.")
CSRF_FAILED = OpenApiResponse(
    DETAIL,
    description="A logged-in shopper's request without a valid X-CSRFToken header, a request another site caused "
    "(Sec-Fetch-Site: cross-site), or wrong credentials.",
)
TOO_LARGE = OpenApiResponse(DETAIL, description="The body is larger than 64 KiB.")
UNSUPPORTED = OpenApiResponse(DETAIL, description="The body is not application/json.")
THROTTLED = OpenApiResponse(DETAIL, description='Too many events (scope "recommender-events"); see Retry-After.')
SEARCH_THROTTLED = OpenApiResponse(
    DETAIL, description="Too many requests under this endpoint's scope; see Retry-After."
)


class RecommenderSchema(AutoSchema):
    """drf-spectacular's AutoSchema, whatever the host's DEFAULT_SCHEMA_CLASS; ids from ``view.operation_id``."""

    def get_operation_id(self) -> str:
        return getattr(self.view, "operation_id", "") or super().get_operation_id()


def only_recommender_endpoints(endpoints: list[tuple]) -> list[tuple]:
    """Preprocessing hook: keep this API's views (those documented by :class:`RecommenderSchema`),
    wherever the host mounted them."""
    return [e for e in endpoints if isinstance(getattr(getattr(e[3], "cls", None), "schema", None), RecommenderSchema)]


class RecommenderSchemaView(SpectacularAPIView):
    """The schema of the recommender endpoints, JSON by default (``?format=yaml`` for YAML)."""

    renderer_classes = (OpenApiJsonRenderer, OpenApiYamlRenderer)
    # Not an endpoint of any schema: without this, a host whose DEFAULT_SCHEMA_CLASS is DRF's own
    # fails `check --deploy` (drf_spectacular.E001, "Incompatible AutoSchema" on this view).
    schema = None
    custom_settings: ClassVar[dict[str, Any]] = {
        "TITLE": "recommender API",
        "DESCRIPTION": (
            "Product recommendations and shopper events. Anonymous shoppers are identified by their "
            "Django session; logged-in shoppers by their account, and their POSTs need the CSRF token "
            "in the X-CSRFToken header."
        ),
        "VERSION": __version__,
        "PREPROCESSING_HOOKS": ["recommender.api.schema.only_recommender_endpoints"],
        "COMPONENT_SPLIT_REQUEST": True,
    }
