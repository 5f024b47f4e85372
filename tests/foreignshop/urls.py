"""The foreign shop's own pages, namespace ``store`` (mounted under /store/ by tests/urls.py).

Its products have no get_absolute_url(): the recommender builds their links from these
patterns (``RECOMMENDER["FIELDS"]["url"]``).
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

app_name = "store"


def item(request: HttpRequest, sku: object, section: str = "") -> HttpResponse:
    return HttpResponse(f"item {sku}")


urlpatterns = [
    path("items/<uuid:sku>/", item, name="item"),
    path("sections/<path:section>/items/<uuid:sku>/", item, name="item_in_section"),
]
