"""Every ranked list of a search in one round trip to Postgres, with the facts the rules need.

    got = fetch_lists({"fulltext": fulltext_statement(...), "text_vector": dense_statement(...)},
                      version, settings={"hnsw.ef_search": "100"})
    got.lists["fulltext"]      # [(key, score), ...] best first, as the list's own SELECT ranks them
    got.facts[key]             # ProductRow(title, category, price, in_stock, sellable)

Each list is a SELECT of (product_key, score) in rank order, written by the module that owns it
(``fulltext``, ``trigram``, ``dense``). Here they become the CTEs of one statement whose rows
also carry each product's filter fields, and the per-query settings (pgvector's ``ef_search``,
pg_trgm's threshold) go first in the same message as ``set_config(..., true)``: Postgres runs a
multi-statement message as one implicit transaction, so they last for this search only. A search
used to cost about 16 round trips (three transactions with their BEGIN, settings and COMMIT, a
query per list and one for the facts); see ``bench/results/search_latency.md``.

A search whose query vector is still being encoded sends its lexical lists first and the vector
lists after (``engine.retrieve_lists``): ``listed`` then names the first statement's products, so
that a derived list still covers every product of the search, and :func:`joined` puts the two
answers together as one statement would have returned them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from recommender.models import ModelVersion, ProductVector
from recommender.storage import fetch_with_settings

__all__ = ["ProductRow", "Retrieved", "Statement", "fetch_lists", "joined"]

# (sql, params): a SELECT of (product_key, score) rows, best first, with %s placeholders.
Statement = tuple[str, list]
# A list computed from the others' products: given the SQL of their keys and its parameters,
# its Statement (``boosts.popularity_statement``).
Derived = Callable[[str, Sequence], Statement]


@dataclass(frozen=True)
class ProductRow:
    """The stored fields of a product that filters and merchandising rules look at."""

    title: str
    category: str
    price: Decimal | None
    in_stock: bool
    sellable: bool


@dataclass
class Retrieved:
    """Ranked lists by name, the derived lists (``derived``: boosts over the lists' products,
    kept apart so they are not fused as retrieval lists), and the facts of every product."""

    lists: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    facts: dict[str, ProductRow] = field(default_factory=dict)
    derived: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


def combined_sql(
    statements: Mapping[str, Statement],
    version: ModelVersion,
    derived: Mapping[str, Derived] | None = None,
    listed: Sequence[str] = (),
) -> Statement:
    """One SELECT of (list number, key, score, facts...) rows over every statement, in list then
    rank order; the ``derived`` lists follow, numbered after the statements, over the statements'
    products and the ``listed`` ones."""
    ctes, unions, params = [], [], []

    def add_leg(number: int, sql: str, leg_params: list) -> None:
        # row_number() over a subquery keeps the order its ORDER BY gave the rows.
        ctes.append(
            f"leg{number} AS (SELECT t.product_key, t.score, row_number() OVER () AS pos "
            f"FROM ({sql}) AS t(product_key, score))"
        )
        unions.append(f"SELECT {number} AS leg, product_key, score, pos FROM leg{number}")
        params.extend(leg_params)

    for number, (sql, leg_params) in enumerate(statements.values()):
        add_leg(number, sql, leg_params)
    keys = [f"SELECT product_key FROM leg{n}" for n in range(len(statements))]
    keys_params: list = []
    if listed:
        keys.append("SELECT unnest(%s::varchar[])")
        keys_params.append(list(listed))
    for number, make in enumerate((derived or {}).values(), start=len(statements)):
        add_leg(number, *make(" UNION ".join(keys), keys_params))
    table = ProductVector._meta.db_table
    sql = (
        f"WITH {', '.join(ctes)} "
        "SELECT l.leg, l.product_key, l.score, p.title, p.category, p.price, p.in_stock, p.sellable "
        f"FROM ({' UNION ALL '.join(unions)}) AS l "
        f"JOIN {table} AS p ON p.version_id = %s AND p.product_key = l.product_key "
        "ORDER BY l.leg, l.pos"
    )
    return sql, [*params, version.pk]


def fetch_lists(
    statements: Mapping[str, Statement],
    version: ModelVersion,
    settings: Mapping[str, str] | None = None,
    *,
    derived: Mapping[str, Derived] | None = None,
    listed: Sequence[str] = (),
) -> Retrieved:
    """Run every list's statement (and the ``settings`` they need) in one round trip; each
    ``derived`` list (a boost over the lists' products and the ``listed`` ones, e.g. popularity)
    rides along."""
    if not statements and not (derived and listed):
        return Retrieved(derived={name: [] for name in derived or {}})
    sql, params = combined_sql(statements, version, derived, listed)
    names = list(statements)
    out = Retrieved(lists={name: [] for name in names}, derived={name: [] for name in derived or {}})
    names += list(derived or {})
    rows = fetch_with_settings(sql, params, settings or {})
    for leg, key, score, title, category, price, in_stock, sellable in rows:
        (out.lists if leg < len(statements) else out.derived)[names[leg]].append((key, float(score)))
        if key not in out.facts:
            out.facts[key] = ProductRow(title, category, price, in_stock, sellable)
    return out


def joined(first: Retrieved, second: Retrieved) -> Retrieved:
    """Two answers of :func:`fetch_lists` as one: the lists and facts of ``first`` then those of
    ``second`` (in the order one statement over both would have given), ``second``'s derived lists
    (computed over both: ``listed``)."""
    facts = dict(first.facts)
    for key, row in second.facts.items():
        facts.setdefault(key, row)
    return Retrieved(lists={**first.lists, **second.lists}, facts=facts, derived=dict(second.derived))
