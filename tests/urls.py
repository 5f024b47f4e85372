from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/recommender/", include("recommender.api.urls")),
    path("store/", include("tests.foreignshop.urls")),  # the foreign shop's product pages
]
