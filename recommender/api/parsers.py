"""A JSON parser with a body-size limit, for the event endpoint.

DRF's JSONParser reads the request stream directly, past Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` check, and lets ``RecursionError`` from deeply nested
arrays escape as a 500. This one refuses large bodies with 413 and any undecodable or
unparsable body with 400, always as JSON.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# An event is a few hundred bytes; a 10 kB search query (stored truncated) still fits.
MAX_BODY_BYTES = 64 * 1024


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = format_lazy(gettext_lazy("Request body too large (at most {limit} bytes)."), limit=MAX_BODY_BYTES)
    default_code = "payload_too_large"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class LimitedJSONParser(JSONParser):
    """JSONParser that reads at most MAX_BODY_BYTES and turns every decoding failure into 400."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise ParseError(gettext("JSON parse error - %(error)s") % {"error": exc}) from exc
