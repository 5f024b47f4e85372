"""URLs of the Django server process a fault test starts (``tests.server_settings``): the test
API, plus ``slots/``, a shop-like page whose only dynamic part is a recommendation slot."""

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

from tests.urls import urlpatterns as test_urlpatterns

SLOTS_PAGE = """{% load recommender_tags %}<!doctype html>
<html><body><h1>Shop front</h1>{% trending_products limit=4 %}<p>End of page</p></body></html>"""


def slots_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(SLOTS_PAGE).render({}, request))


urlpatterns = [*test_urlpatterns, path("slots/", slots_page)]
