import re

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.static import serve

from shopdemo.catalog import views


def media(request: HttpRequest, path: str) -> HttpResponse:
    """The demo's product photos, DEBUG or not (``static()`` serves nothing once DEBUG is off).

    The demo runs on runserver with no web server in front; a real shop serves media from its web
    server or storage, as Django's ``serve`` view is not made for production traffic.
    """
    return serve(request, path, document_root=settings.MEDIA_ROOT)


shop_patterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    # Category names and product ids are data: any text must route ("Leggings/Tights"), hence <path:>.
    path("c/<path:name>/", views.category, name="category"),
    path("p/<path:pk>/", views.product, name="product"),
    path("cart/", views.cart_view, name="cart"),
    path("cart/add/<path:pk>/", views.cart_add, name="cart_add"),
    path("cart/remove/<path:pk>/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
]

urlpatterns = [
    path("", include((shop_patterns, "shop"))),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(extra_context={"demo_users": ["demo1", "demo2", "demo3"]}),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/recommender/", include("recommender.api.urls")),
    path("admin/", admin.site.urls),
    # set_language: the header's language picker posts here.
    path("i18n/", include("django.conf.urls.i18n")),
    re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.*)$", media),
]
