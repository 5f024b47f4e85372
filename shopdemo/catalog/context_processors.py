from shopdemo.catalog import cart


def shop(request):
    """Cart size for the header on every page."""
    return {"cart_count": cart.count(request.session) if hasattr(request, "session") else 0}
