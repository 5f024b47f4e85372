"""URL patterns of the search endpoints, meant to be added to ``recommender.api.urls``.

from recommender.api.search_urls import urlpatterns as search_urlpatterns
urlpatterns += search_urlpatterns        # names: recommender_api:search, :search-image, :suggest
"""

from django.urls import path

from recommender.api import search_views

urlpatterns = [
    path("search/", search_views.SearchView.as_view(), name="search"),
    path("search/image/", search_views.ImageSearchView.as_view(), name="search-image"),
    path("suggest/", search_views.SuggestView.as_view(), name="suggest"),
]
