"""The demo shop's pages. Recommendations come only from recommender's template tags and events."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.http import require_POST

from recommender.events import record_event, shopper
from recommender.models import Event
from shopdemo.catalog import cart
from shopdemo.catalog.models import Order, OrderLine, Product

PAGE_SIZE = 24
# Facet titles of SEARCH_FACET_ATTRIBUTES: the results template translates them (capitalised, then {% translate %}).
FACET_TITLES = [gettext_noop("Colour")]


def is_product_key(value: str) -> bool:
    """Whether ``value`` can be a product key: Postgres refuses a NUL in a query (a 500 before)."""
    return 0 < len(value) <= Product._meta.pk.max_length and value.isprintable()


def product_or_404(pk: str) -> Product:
    """The product with key ``pk``; 404 for a missing product and for any key no product can have."""
    if not is_product_key(pk):
        raise Http404("No such product.")
    return get_object_or_404(Product, pk=pk)


def categories() -> list[str]:
    """Category names for the menu; products without one have no category page."""
    names = Product.objects.exclude(category="").order_by("category").values_list("category", flat=True)
    return list(names.distinct())


def home(request: HttpRequest) -> HttpResponse:
    # "For you" only once there is something to personalise on; before that, trending says it all.
    user, session = shopper(request)
    has_history = Event.objects.of_shopper(user.pk if user else None, session).exists()
    return render(request, "shop/home.html", {"categories": categories(), "has_history": has_history})


def search(request: HttpRequest) -> HttpResponse:
    """Results come from {% search_results %}: hybrid search over the recommender's index, or search
    by image when the page's {% search_image_form %} posts a photo (hence GET and POST)."""
    return render(request, "shop/search.html", {"categories": categories()})


def category(request: HttpRequest, name: str) -> HttpResponse:
    if not name.isprintable():  # a NUL would be a database error, not an empty category
        raise Http404("No such category.")
    products = Product.objects.filter(category=name).order_by("name", "pk")
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "shop/category.html", {"category": name, "page": page, "categories": categories()})


def product(request: HttpRequest, pk: str) -> HttpResponse:
    item = product_or_404(pk)
    return render(request, "shop/product.html", {"product": item, "categories": categories()})


@require_POST
def cart_add(request: HttpRequest, pk: str) -> HttpResponse:
    item = product_or_404(pk)
    cart.add(request.session, item.pk)
    record_event("add_to_cart", request=request, product_key=item.pk)
    messages.success(request, gettext("%(name)s is in your cart.") % {"name": item.name})
    return redirect("shop:cart")


@require_POST
def cart_remove(request: HttpRequest, pk: str) -> HttpResponse:
    cart.remove(request.session, pk)
    return redirect("shop:cart")


def cart_view(request: HttpRequest) -> HttpResponse:
    rows, total = cart.lines(request.session)
    return render(request, "shop/cart.html", {"rows": rows, "total": total, "categories": categories()})


@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    rows, total = cart.lines(request.session)
    if not rows:
        messages.info(request, gettext("Your cart is empty."))
        return redirect("shop:cart")
    with transaction.atomic():
        order = None
        if request.user.is_authenticated:
            order = Order.objects.create(user=request.user, created_at=timezone.now())
        for item, quantity, _ in rows:
            if order is not None:
                OrderLine.objects.create(order=order, product=item, quantity=quantity, price=item.price)
            record_event("purchase", request=request, product_key=item.pk, quantity=quantity)
    cart.clear(request.session)
    messages.success(request, gettext("Thank you! Your order of %(total)s is on its way.") % {"total": total})
    return redirect("shop:home")


def demo_shoppers(request: HttpRequest) -> list:
    return list(get_user_model().objects.filter(username__startswith="demo").order_by("username")[:10])
