"""MMR diversity: the admin's lambda trades relevance for variety.

The shop is conftest's ``vector_shop``: 12 products in 4 families with hand-made 4-d vectors
(one axis per family), so every expected ranking can be worked out on paper; the encoder path
is covered in test_indexing.py.
"""

from __future__ import annotations

import pytest

from recommender.models import RecommenderSettings
from recommender.recommend import recommend
from tests.factories import names

pytestmark = pytest.mark.django_db


def test_diversity_lambda_spreads_results(vector_shop, django_capture_on_commit_callbacks):
    settings = RecommenderSettings.get()
    with django_capture_on_commit_callbacks(execute=True):
        settings.diversity_lambda = 1.0
        settings.save()
    plain = names(recommend("similar", product_key=vector_shop["dress-a"], limit=3), vector_shop)
    with django_capture_on_commit_callbacks(execute=True):
        settings.diversity_lambda = 0.3
        settings.save()
    diverse = names(recommend("similar", product_key=vector_shop["dress-a"], limit=3), vector_shop)
    assert plain[:2] == ["dress-b", "dress-c"]
    assert len({n.split("-")[0] for n in diverse}) > len({n.split("-")[0] for n in plain})


def _candidates() -> tuple[list, dict]:
    """Two of the shopper's own products (far ahead on score, as the blend's "Buy again" bonus puts
    them), then suggestions: two variants close to the first purchase (the likeliest next buys)
    and two unrelated products a little behind them."""
    import numpy as np

    from recommender.strategies.base import Candidate

    def unit(*v):
        a = np.array(v, dtype=np.float32)
        return a / np.linalg.norm(a)

    vectors = {
        "own-jeans": unit(1, 0, 0, 0),
        "own-coat": unit(0, 1, 0, 0),
        "jeans-blue": unit(0.9, 0, 0.44, 0),
        "jeans-grey": unit(0.9, 0, 0, 0.44),
        "hat": unit(0, 0, 1, 0),
        "scarf": unit(0, 0, 0, 1),
    }
    candidates = [
        Candidate("own-jeans", 26.0, "Buy again", repeat=True),
        Candidate("own-coat", 23.0, "Buy again", repeat=True),
        Candidate("jeans-blue", 2.0),
        Candidate("jeans-grey", 1.9),
        Candidate("hat", 0.3),
        Candidate("scarf", 0.1),
    ]
    return candidates, vectors


def test_own_products_keep_their_place_and_suggestions_are_rescaled_among_themselves():
    """Rescaled with the own products' bonus, the variants' relevance lead over unrelated products
    was a sliver and the similarity penalty threw them out; among the suggestions alone it counts."""
    from recommender.diversity import mmr

    candidates, vectors = _candidates()
    picked = [c.key for c in mmr(candidates, vectors, 4, 0.8)]
    assert picked == ["own-jeans", "own-coat", "jeans-blue", "jeans-grey"]
    # without the flag (all scaled together, as before): the unrelated products take the variants' place
    plain = [c.__class__(c.key, c.score, c.reason) for c in candidates]
    assert [c.key for c in mmr(plain, vectors, 4, 0.8)] == ["own-jeans", "own-coat", "hat", "scarf"]
    # strong diversity still spreads the suggestions around (and away from) the own products
    assert [c.key for c in mmr(candidates, vectors, 4, 0.1)][2:] == ["hat", "scarf"]


def test_a_repeat_candidate_is_taken_where_its_score_puts_it():
    from recommender.diversity import mmr
    from recommender.strategies.base import Candidate

    candidates, vectors = _candidates()
    late = [Candidate("jeans-blue", 30.0), *candidates[:2], *candidates[3:]]  # a suggestion above both
    assert [c.key for c in mmr(late, vectors, 3, 0.8)] == ["jeans-blue", "own-jeans", "own-coat"]


def test_merchandising_rules_keep_the_repeat_mark():
    from recommender.product_facts import ProductFacts
    from recommender.rules import apply_rules
    from recommender.strategies.base import Candidate

    facts = {"a": ProductFacts("a", "A", "Jeans", None, True, None)}
    _, ranked = apply_rules([Candidate("a", 1.0, "Buy again", repeat=True)], facts, [])
    assert ranked[0].repeat is True
