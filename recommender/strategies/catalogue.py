"""New in: the catalogue's newest in-stock products, taking turns between categories.

What a shop shows before it has events: trending (and so "for you" for a shopper without
history) is topped up with these, so a new home page is never a row of empty shelves. Each
category gives its newest product in turn (the category with the newest product first), so
one busy category does not fill the shelf; the reason says where it is new ("New in Dresses").

"Newest" is the order in which products were first embedded into the serving version (its
vector rows' ids; re-embedding keeps them): a product the shop adds is embedded after the
catalogue's first index, so it comes first. The first index follows primary-key order, which
for integer keys is the order they were created.
"""

from __future__ import annotations

from collections.abc import Collection

from django.db import connection
from django.utils.translation import gettext, gettext_lazy

from recommender.models import ProductVector
from recommender.strategies.base import Candidate, Context

REASON = gettext_lazy("New in")


def reason(category: str) -> str:
    return gettext("New in %(category)s") % {"category": category} if category else str(REASON)


def new_in(ctx: Context, count: int, *, exclude: Collection[str] = (), below: float = 1.0) -> list[Candidate]:
    """Up to ``count`` newest sellable, in-stock products, round-robin over categories.

    Scores fall from just under ``below`` towards 0, so these rank after any candidate that
    scores ``below`` or more (trending's least popular product) and stay positive for the rules.
    """
    if ctx.version is None or count <= 0:
        return []
    skip = sorted({*ctx.exclude_keys, *exclude})
    where = ["version_id = %s", "in_stock", "sellable", "embedding IS NOT NULL", "NOT (product_key = ANY(%s))"]
    params: list = [ctx.version.pk, skip]
    if ctx.categories:
        where.append("category = ANY(%s)")
        params.append(list(ctx.categories))
    if ctx.exclude_categories:
        where.append("NOT (category = ANY(%s))")
        params.append(list(ctx.exclude_categories))
    sql = f"""
        SELECT product_key, category FROM (
            SELECT product_key, category, id, row_number() OVER (PARTITION BY category ORDER BY id DESC) AS turn
            FROM {ProductVector._meta.db_table} WHERE {" AND ".join(where)}
        ) ranked
        WHERE turn <= %s ORDER BY turn, id DESC LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, count, count])
        rows = cursor.fetchall()
    n = len(rows)
    return [Candidate(key, below * (n - i) / (n + 1), reason(category)) for i, (key, category) in enumerate(rows)]
