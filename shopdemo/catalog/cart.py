"""A session cart: {product id: quantity}. Small on purpose: the demo's point is the recommender."""

from __future__ import annotations

from decimal import Decimal

from shopdemo.catalog.models import Product

SESSION_KEY = "cart"
MAX_QUANTITY = 20


def items(session) -> dict[str, int]:
    return dict(session.get(SESSION_KEY, {}))


def add(session, product_id: str, quantity: int = 1) -> None:
    cart = items(session)
    cart[product_id] = min(cart.get(product_id, 0) + quantity, MAX_QUANTITY)
    session[SESSION_KEY] = cart


def remove(session, product_id: str) -> None:
    cart = items(session)
    cart.pop(product_id, None)
    session[SESSION_KEY] = cart


def clear(session) -> None:
    session.pop(SESSION_KEY, None)


def lines(session) -> tuple[list[tuple[Product, int, Decimal]], Decimal]:
    """(product, quantity, line total) rows and the cart total."""
    cart = items(session)
    products = {p.pk: p for p in Product.objects.filter(pk__in=cart)}
    rows = [(products[k], q, products[k].price * q) for k, q in cart.items() if k in products]
    return rows, sum((r[2] for r in rows), Decimal(0))


def count(session) -> int:
    return sum(items(session).values())
