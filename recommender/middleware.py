"""Optional middleware: a page's slot impressions in one write (``recommender/impressions.py``).

    MIDDLEWARE = [..., "recommender.middleware.PageImpressionsMiddleware"]

Anywhere in the list: it only brackets the view. Without it every slot writes its own
impressions as it renders (correct, one statement more per slot).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from recommender.impressions import collect_impressions, drop_impressions, write_impressions

logger = logging.getLogger(__name__)


class PageImpressionsMiddleware:
    """Collect the slots' impressions while the view renders; write them once before the response goes."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        collect_impressions(request)
        response = self.get_response(request)
        if response.status_code >= 500:
            drop_impressions(request)  # the page failed: nothing was shown
            return response
        try:
            write_impressions(request)
        except Exception:  # a page is never lost to its analytics (the database may be down)
            logger.exception("Could not write the page's slot impressions.")
        return response
