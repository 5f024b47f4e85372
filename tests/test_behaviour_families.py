"""Product families in "for you": the catalog's ``family`` role, the family table a behaviour version
keeps, its tuned weight, and serving it as the offline blend ranks it.

A family is what a product's variants share (H&M: one garment in several colours). Uses the conftest
``vector_shop`` and the helpers of tests/test_behaviour_shop.py (tiny model, 4-d vectors).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recommender.behaviour import serving
from recommender.behaviour.cooccurrence import (
    FAMILY_DECAY,
    FAMILY_FILENAME,
    FAMILY_RECENT,
    family_table,
    load_table,
)
from recommender.catalog import get_adapter
from recommender.catalog.field_map import FieldMapAdapter
from recommender.storage import nearest
from recommender.versions import serving_version
from tests.test_behaviour_shop import (
    _buy_and_view,
    _diversity_off,
    _events,
    _exclude_purchased,
    _offline_blend,
    _pairs,
    _set_weights,
    _view,
    _wide_shop,
)

pytestmark = pytest.mark.django_db


def _family_of(product) -> str:
    """bag-b and "odd" are one family (two colours of one bag, say); the rest by category."""
    return "bag-odd" if product.name in ("bag-b", "odd") else product.category


@pytest.fixture
def families(settings):
    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "FIELDS": {**settings.RECOMMENDER["FIELDS"], "family": "tests.test_behaviour_families:_family_of"},
    }
    yield
    get_adapter.cache_clear()


def test_family_table_links_each_item_to_its_siblings_most_popular_first(tmp_path):
    families = ["a", "a", "", "b", "a", "b", "c"]
    counts = np.array([1.0, 5.0, 9.0, 0.0, 5.0, 2.0, 3.0])
    table = family_table(families, counts)
    siblings = {i: table.neighbours(i)[0].tolist() for i in range(len(families))}
    # never itself, the more popular first (ties: lower index), none for no family or a family of one
    assert siblings == {0: [1, 4], 1: [4, 0], 2: [], 3: [5], 4: [1, 0], 5: [3], 6: []}
    assert table.similarities.tolist() == [1.0] * table.pairs
    assert (table.recent, table.decay) == (FAMILY_RECENT, FAMILY_DECAY)
    assert family_table(families, counts, neighbours=1).neighbours(0)[0].tolist() == [1]
    assert family_table(["", "x", "y"], np.ones(3)).pairs == 0

    # a shopper's score: the recency-weighted sum over their newest items' siblings, max 1
    items, scores = table.scores([0, 3])  # newest: 3 (weight 1), then 0 (weight 0.8)
    assert dict(zip(items.tolist(), scores.tolist(), strict=True)) == pytest.approx({5: 1.0, 1: 0.8, 4: 0.8})
    items, _ = table.scores([4, 1])  # each other's sibling: both count
    assert sorted(items.tolist()) == [0, 1, 4]

    # saved beside the co-occurrence table under its own name, read back equal
    table.save(tmp_path, FAMILY_FILENAME)
    loaded = load_table(tmp_path, FAMILY_FILENAME)
    assert load_table(tmp_path) is None  # no co-occurrence file
    for name in ("indptr", "indices", "similarities"):
        assert np.array_equal(getattr(loaded, name), getattr(table, name)), name


def test_the_field_map_reads_families_and_skips_unknown_keys(vector_shop, families):
    adapter = get_adapter()
    keys = [vector_shop["bag-b"], vector_shop["dress-a"], "999999", "not-a-key"]
    assert adapter.families(keys) == {vector_shop["bag-b"]: "bag-odd", vector_shop["dress-a"]: "dress"}
    # the default field map names no family: no product has one, and none is read to tell
    without = FieldMapAdapter(fields={"family": None})
    with CaptureQueriesContext(connection) as queries:
        assert without.families(list(vector_shop.values())) == {}
    assert not queries.captured_queries


def test_training_tunes_the_family_weight_and_saves_its_table(vector_shop, behaviour_settings, families):
    from recommender.behaviour.config import behaviour_config
    from recommender.training.behaviour.baselines import item_counts
    from recommender.training.behaviour.evaluate import BLEND_GRID
    from recommender.training.behaviour.shop import load_shop
    from recommender.training.behaviour.shop_split import shop_split
    from recommender.training.behaviour.train import item_families, train_behaviour
    from tests.testapp.models import Product

    _events(vector_shop)
    version = train_behaviour(activate=False)
    tuned, weight = version.metrics["family"], version.metrics["family_weight"]
    assert weight in BLEND_GRID and tuned["weight"] == weight and tuned["metric"] == "valid_ndcg@10"
    assert set(tuned["by_weight"]) == {str(w) for w in BLEND_GRID}
    assert tuned["by_weight"][str(weight)] == max(tuned["by_weight"].values())
    assert tuned["families"] == 5 and f"family weight {weight:g}" in version.message

    # the saved table is the catalog's families over the version's items, in items.json order
    folder = serving.artifact_path(version)
    keys = json.loads((folder / "items.json").read_text())
    products = Product.objects.in_bulk([int(k) for k in keys])
    assert item_families(keys) == [_family_of(products[int(k)]) for k in keys]
    cfg = behaviour_config()
    split = shop_split(load_shop(cfg), cfg)
    expected = family_table(item_families(keys), item_counts(split.train, len(keys)))
    saved = load_table(folder, FAMILY_FILENAME)
    assert saved is not None and saved.pairs == tuned["pairs"] == expected.pairs > 0
    for name in ("indptr", "indices", "similarities"):
        assert np.array_equal(getattr(saved, name), getattr(expected, name)), name


def test_a_catalog_without_families_trains_without_them(vector_shop, behaviour_settings):
    from recommender.training.behaviour.train import train_behaviour

    _events(vector_shop)
    version = train_behaviour(activate=True)
    family = version.metrics["family"]
    assert version.metrics["family_weight"] == family["weight"] == 0.0
    assert family["pairs"] == family["families"] == 0 and "by_weight" not in family  # no validation pass
    assert not (serving.artifact_path(version) / FAMILY_FILENAME).exists()
    _view(vector_shop, "fan", ["bag-b", "dress-b"])
    query = serving.behaviour_query(None, "fan")
    assert query is not None and query.family_weight == 0.0 and not query.family


def test_for_you_offers_other_variants_in_the_offline_blend_order(vector_shop, behaviour_settings, families):
    from recommender.recommend import recommend
    from recommender.strategies import Context
    from recommender.strategies.personal import BUY_AGAIN, for_you
    from recommender.training.behaviour.train import train_behaviour

    keys = _wide_shop(vector_shop)
    _events(keys)
    _pairs(keys, ("odd", "dress-c"))
    version = train_behaviour(overrides={"output_id": "", "refit": False}, activate=True)
    folder = serving.artifact_path(version)
    assert (folder / FAMILY_FILENAME).exists()
    _set_weights(version, cooccurrence_weight=8.0, family_weight=64.0, repurchase_weight=2.0)
    _exclude_purchased(False)
    _diversity_off()
    # bought shoes-b, then viewed bag-b and a dress
    _buy_and_view(keys, "fan", [("purchase", "shoes-b"), ("view", "bag-b"), ("view", "dress-b")])
    back = {v: k for k, v in keys.items()}
    ctx = Context(version=serving_version(), limit=8, session_key="fan")
    query = serving.behaviour_query(None, "fan")
    hits = {k for k, _ in nearest(query.vector, version=version, k=ctx.fetch)}
    # bag-b's other colour: a product neither the model nor co-occurrence suggests (the table
    # rewritten with that family, as training would write it)
    items = json.loads((folder / "items.json").read_text())
    far = next(
        k for k in items if k not in hits and k not in query.cooccurrence and back[k] not in ("dress-out", "bag-b")
    )
    names = [back[k] for k in items]
    family_table(["bag" if n in ("bag-b", back[far]) else "" for n in names], np.ones(len(items))).save(
        folder, FAMILY_FILENAME
    )
    serving.clear_cache()

    query = serving.behaviour_query(None, "fan")
    assert query is not None and query.family_weight == 64.0
    assert dict(query.family) == pytest.approx({far: 1.0})  # bag-b's only sibling
    served = for_you(ctx)
    # candidates: the hits, what co-occurrence and the family suggest, what the shopper bought
    assert {c.key for c in served} == hits | set(query.cooccurrence) | {far, keys["shoes-b"]}
    offline, _ = _offline_blend(version, "fan")
    expected = sorted((c.key for c in served), key=lambda k: -offline[k])
    assert [back[c.key] for c in served] == [back[k] for k in expected]
    reasons = {c.key: c.reason for c in served}
    assert reasons[keys["shoes-b"]] == BUY_AGAIN and reasons[far].startswith("Because you")

    recs = recommend("for_you", session_key="fan", limit=8)
    assert far in recs.keys and recs.keys == [k for k in expected if k != keys["dress-out"]][:8]

    # weight 0, or a version without the file: the sibling is not offered
    for change in (
        lambda: _set_weights(version, family_weight=0.0),
        lambda: ((folder / FAMILY_FILENAME).unlink(), _set_weights(version, family_weight=64.0)),
    ):
        change()
        query = serving.behaviour_query(None, "fan")
        assert query.family_weight == 0.0 and not query.family
        assert far not in {c.key for c in for_you(ctx)}


def test_a_sibling_that_also_cooccurs_weakly_is_still_a_family_candidate(vector_shop, behaviour_settings):
    """Each part offers its own best products: a sibling that co-occurs too weakly to be among
    co-occurrence's ``ctx.fetch`` best is still offered by the family part (before, the family
    part skipped every co-occurring product, and H&M's likeliest purchase went unserved)."""
    from dataclasses import replace

    from recommender.strategies import Context
    from recommender.strategies.personal import blended
    from recommender.training.behaviour.train import train_behaviour

    keys = _wide_shop(vector_shop)
    _events(keys)
    version = train_behaviour(overrides={"output_id": "", "refit": False}, activate=True)
    _view(keys, "fan", ["bag-b", "dress-b"])
    ctx = Context(version=serving_version(), limit=4, session_key="fan")
    query = serving.behaviour_query(None, "fan")
    items = json.loads((serving.artifact_path(version) / "items.json").read_text())
    weak = [k for k in items if k not in (keys["bag-b"], keys["dress-b"])][: ctx.fetch + 5]
    sibling = weak[-1]  # co-occurs, but below co-occurrence's best ctx.fetch
    query = replace(
        query,
        cooccurrence={k: 1.0 - i / 100 for i, k in enumerate(weak)},
        cooccurrence_weight=1.0,
        family={sibling: 1.0},
        family_weight=64.0,
    )
    served = blended(ctx, query, [], buy_again=False)
    assert sibling in {c.key for c in served}
    assert served[0].key == sibling  # the family weight puts it first, as the offline blend does
    assert len({c.key for c in served}) == ctx.fetch + 1  # co-occurrence's best, and the sibling
