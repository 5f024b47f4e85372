"""Personal strategies: recommended for you, recently viewed.

"For you" queries the active behaviour model's product output vectors with the shopper's state
(both in pgvector under the behaviour version), else the encoder's product vectors with the
shopper's profile vector; a shopper with no history gets trending products. Each
result carries the reason: the past product it is closest to.

The active behaviour model's candidates are blended as the offline evaluation proved best
(:func:`recommender.behaviour.serving.blend_scores`): when its version has a positive
co-occurrence weight, the products that co-occur with the shopper's recent ones join the
model's candidates, and with a positive family weight the other variants of them (their
product families: another colour of a top they bought), and with a positive popularity weight
the products most bought in the week before training (what everybody buys now); when the shop
also keeps purchased products in recommendations (``exclude_purchased`` off, or on auto where
re-buying is common: fashion basics, groceries; :mod:`recommender.behaviour.purchase_policy`) and
the version has a positive repurchase weight, so do the shopper's own purchases, with the reason
"Buy again". With every
weight 0 (or purchases excluded and no other weight) the model's order stands alone.

A user who opted out of personalisation is treated as a shopper without history: "for you"
is trending and "recently viewed" is empty, whatever events are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from django.utils.translation import gettext, gettext_lazy

from recommender.behaviour.purchase_policy import excludes_purchased
from recommender.models import Event, EventType, RecommenderSettings
from recommender.profiles import get_profile_vector, product_vectors
from recommender.storage import VectorFilter, nearest
from recommender.strategies.base import Candidate, Context
from recommender.strategies.popularity import trending

if TYPE_CHECKING:
    from recommender.behaviour.serving import BehaviourQuery

REASON_VERBS = {
    EventType.VIEW: "viewed",
    EventType.CLICK: "viewed",
    EventType.ADD_TO_CART: "added",
    EventType.PURCHASE: "bought",
}
# The products a reason can point at: the shopper's most recent ones.
REASON_HISTORY = 20
BUY_AGAIN = gettext_lazy("Buy again")
# Whole sentences with a named placeholder, so a translation can put the title where its grammar wants it.
BECAUSE_YOU = {
    "viewed": gettext_lazy("Because you viewed %(title)s"),
    "added": gettext_lazy("Because you added %(title)s"),
    "bought": gettext_lazy("Because you bought %(title)s"),
}


def history(ctx: Context, types: tuple[str, ...], limit: int) -> list[tuple[str, str]]:
    """(product key, event type) of the shopper's latest distinct products, newest first (from the
    newest events read with the shopper's facts when they tell, else from the events table)."""
    if not ctx.personalised:
        return []
    rows = ctx.shopper.newest(types, limit * 5) if ctx.shopper is not None else None
    if rows is None:
        rows = Event.objects.of_shopper(ctx.user_id, ctx.session_key).product_history(types, limit * 5)
    seen: dict[str, str] = {}
    for key, type_ in rows:
        seen.setdefault(key, type_)
        if len(seen) >= limit:
            break
    return list(seen.items())


def recently_viewed(ctx: Context) -> list[Candidate]:
    viewed = history(ctx, (EventType.VIEW, EventType.CLICK), ctx.fetch)
    n = len(viewed)
    return [
        Candidate(key, float(n - i), gettext("You viewed this"))
        for i, (key, _) in enumerate(viewed)
        if key not in ctx.exclude_keys
    ]


def for_you(ctx: Context) -> list[Candidate]:
    vector, query = None, None
    if ctx.version is not None and ctx.personalised:
        # The active behaviour model first (its state queries its own product rows), else the profile.
        from recommender.behaviour.serving import behaviour_query

        query = (
            None
            if ctx.behaviour is False
            else behaviour_query(
                ctx.user_id,
                ctx.session_key,
                encoder_version=ctx.version,
                version=ctx.behaviour,
                opted_in=True,
                shopper=ctx.shopper,
            )
        )
        vector = query.vector if query is not None else None
        if vector is None:
            vector = get_profile_vector(ctx.user_id, ctx.session_key, ctx.version, opted_in=True)
    if vector is None:
        return trending(ctx)  # cold start
    flt = VectorFilter(
        categories=ctx.categories, exclude_categories=ctx.exclude_categories, exclude_keys=sorted(ctx.exclude_keys)
    )
    space = query.version if query is not None and query.version is not None else ctx.version
    hits = nearest(vector, version=space, k=ctx.fetch, filters=flt)
    if query is not None:
        ctx.measured_diversity = query.diversity_lambda
        buy_again = query.repurchase_weight > 0 and not excludes_purchased(RecommenderSettings.get())
        if buy_again or query.cooccurrence_weight > 0 or query.family_weight > 0 or query.popularity_weight > 0:
            return blended(ctx, query, hits, buy_again=buy_again)
    return explain(ctx, hits)


def blended(ctx: Context, query: BehaviourQuery, hits: list[tuple[str, float]], *, buy_again: bool) -> list[Candidate]:
    """The model's ``hits``, the top co-occurring products, the other variants of the shopper's
    products (their families), the products most bought lately and (``buy_again``) the shopper's
    own purchases, in the blended order; purchases carry "Buy again".

    Co-occurrence, families and recent popularity each add their own ``ctx.fetch`` best products
    (the query's scores, empty when a weight is 0), whatever the others hold: a sibling that also
    co-occurs, too weakly for co-occurrence's own best, is still a family candidate (skipping every
    co-occurring product there left H&M's likeliest purchase out of 26 of 68 lists). A candidate
    that is not a hit gets its model score, the cosine of the query vector and its stored output
    vector, as pgvector computes it for ``hits``; candidates without a row in the behaviour version
    cannot be scored and are left out. Category and stock filters apply later (``eligible`` in
    :mod:`recommender.recommend`), as for every candidate.
    """
    from recommender.behaviour.serving import blend_scores, own_purchases

    own: dict[str, float] = {}
    if buy_again:
        bought = own_purchases(ctx.user_id, ctx.session_key, ranker=query.buy_again, price_version=ctx.version)
        own = {k: s for k, s in bought.items() if k not in ctx.exclude_keys}
    related: list[str] = []
    for source in (query.cooccurrence, query.family, query.popular):  # each its own best, best first
        related += [k for k in source if k not in ctx.exclude_keys][: ctx.fetch]
    related = list(dict.fromkeys(related))
    similarities = dict(hits)
    vectors = product_vectors(query.version or ctx.version, [k for k in (*related, *own) if k not in similarities])
    for key, vec in vectors.items():
        norm = float(np.linalg.norm(vec))
        similarities[key] = float(vec @ query.vector) / norm if norm > 0 else 0.0
    own = {k: s for k, s in own.items() if k in similarities}
    ranked = blend_scores(query, similarities, own)
    explained = {c.key: c.reason for c in explain(ctx, [(k, s) for k, s in ranked if k not in own])}
    return [
        Candidate(key, score, str(BUY_AGAIN), repeat=True) if key in own else Candidate(key, score, explained[key])
        for key, score in ranked
    ]


def explain(ctx: Context, hits: list[tuple[str, float]]) -> list[Candidate]:
    """Attach "because you viewed X" to each hit: its nearest *other* product in the shopper's
    history (a product the shopper viewed is never recommended because of itself)."""
    past = history(ctx, tuple(REASON_VERBS), REASON_HISTORY)
    # Titles and vectors of the past products and the hits in one read, kept in ctx for the
    # filters and diversity that follow.
    facts = ctx.facts([*(k for k, _ in past), *(k for k, _ in hits)]) if past and hits else {}
    past = [(k, t) for k, t in past if k in facts and facts[k].vector is not None]
    if not past or not hits:
        return [Candidate(key, score, gettext("Picked for you")) for key, score in hits]
    past_column = {k: column for column, (k, _) in enumerate(past)}
    with_vector = [key for key, _ in hits if key in facts and facts[key].vector is not None]
    anchors: dict[str, int] = {}
    if with_vector:
        # Each hit's most similar past product other than itself: one matrix product for all.
        similarity = np.stack([facts[k].vector for k in with_vector]) @ np.stack([facts[k].vector for k, _ in past]).T
        for row, key in enumerate(with_vector):
            if key in past_column:
                similarity[row, past_column[key]] = -np.inf
        best = similarity.argmax(axis=1)
        anchors = {
            key: int(best[row]) for row, key in enumerate(with_vector) if np.isfinite(similarity[row, best[row]])
        }
    # The sentences in the active language, translated once for all hits.
    picked, because = gettext("Picked for you"), {verb: str(sentence) for verb, sentence in BECAUSE_YOU.items()}
    out = []
    for key, score in hits:
        if key not in anchors:
            out.append(Candidate(key, score, picked))
            continue
        anchor, type_ = past[anchors[key]]
        title = facts[anchor].title or anchor
        out.append(Candidate(key, score, because[REASON_VERBS.get(type_, "viewed")] % {"title": title}))
    return out
