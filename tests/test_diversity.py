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
