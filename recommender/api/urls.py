"""URLs of the REST API; mount with ``path("api/recommender/", include("recommender.api.urls"))``.

Product ids may contain slashes (string primary keys such as "AB/12"), hence ``<path:...>``.
"""

from django.urls import path

from recommender.api import experiments, views
from recommender.api.schema import RecommenderSchemaView

app_name = "recommender_api"

urlpatterns = [
    path("similar/<path:product_id>/", views.SimilarView.as_view(), name="similar"),
    path("bought-together/<path:product_id>/", views.BoughtTogetherView.as_view(), name="bought-together"),
    path("also-viewed/<path:product_id>/", views.AlsoViewedView.as_view(), name="also-viewed"),
    path("for-you/", views.ForYouView.as_view(), name="for-you"),
    path("trending/", views.TrendingView.as_view(), name="trending"),
    path("recently-viewed/", views.RecentlyViewedView.as_view(), name="recently-viewed"),
    path("events/", views.EventView.as_view(), name="events"),
    path("schema/", RecommenderSchemaView.as_view(), name="schema"),
    # Staff only (recommender/api/experiments.py).
    path("experiments/", experiments.ExperimentListView.as_view(), name="experiments"),
    path("experiments/<int:pk>/", experiments.ExperimentDetailView.as_view(), name="experiment"),
    path("experiments/<int:pk>/results/", experiments.ExperimentResultsView.as_view(), name="experiment-results"),
    path("experiments/<int:pk>/<slug:action>/", experiments.ExperimentActionView.as_view(), name="experiment-action"),
]

# Search, search by image and suggestions (recommender/api/search_urls.py).
from recommender.api.search_urls import urlpatterns as search_urlpatterns

urlpatterns += search_urlpatterns
