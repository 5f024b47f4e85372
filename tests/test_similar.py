"""What "similar products" compares (SIMILAR_VECTOR) on real Postgres + pgvector.

Hand-made 4-d vectors, one axis per colour and per product type, so every ranking can be worked
out on paper. Image vectors are mostly colour (as a CLIP image tower's are), text vectors mostly
type (as a product text names it): a black dress looks like black coats but is described like
other dresses.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from recommender.models import ModelVersion, RecommenderSettings
from recommender.recommend import recommend
from recommender.storage import VectorFilter, VectorRow, ensure_indexes, nearest_blend, store_vectors
from tests.factories import clustered_vectors, encoder_version
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db

AXES = {"black": 0, "white": 1, "dress": 2, "coat": 3}
# name, colour, type, how much of the image is colour (the rest is shape)
SPECS = [
    ("black-dress", "black", "dress", 1.0),
    ("white-dress", "white", "dress", 1.0),
    ("black-dress-2", "black", "dress", 1.0),
    ("black-coat", "black", "coat", 1.0),
    ("black-jacket", "black", "coat", 0.9),
    ("white-coat", "white", "coat", 1.0),
]


def _unit(**weights: float) -> np.ndarray:
    v = np.full(4, 0.01, dtype=np.float32)
    for axis, weight in weights.items():
        v[AXES[axis]] += weight
    return v / np.linalg.norm(v)


@pytest.fixture
def colour_shop() -> dict[str, str]:
    """Six garments in an active version: image = colour + a little shape, text = type + a little colour."""
    version = encoder_version(4)
    keys, rows = {}, []
    for name, colour, kind, colour_share in SPECS:
        product = Product.objects.create(name=name, category=kind, price=10 + len(keys))
        keys[name] = str(product.pk)
        image = _unit(**{colour: colour_share, kind: 0.3})
        text = _unit(**{kind: 1.0, colour: 0.1})
        rows.append(
            VectorRow(
                key=keys[name],
                embedding=_unit(**{colour: 0.5, kind: 0.5}),
                image_embedding=image,
                text_embedding=text,
                title=name,
                category=kind,
                price=product.price,
            )
        )
    store_vectors(version, rows)
    ensure_indexes(version)
    RecommenderSettings.objects.update_or_create(pk=1, defaults={"diversity_lambda": 1.0})
    return keys


def _names(recs, keys: dict[str, str]) -> list[str]:
    by_key = {key: name for name, key in keys.items()}
    return [by_key[item.product_key] for item in recs]


def test_default_similar_brings_the_same_type_before_the_same_colour(colour_shop):
    got = _names(recommend("similar", product_key=colour_shop["black-dress"], limit=3), colour_shop)
    # Dresses first, the white one included, then a black coat: not black coats and jackets.
    assert got[:2] == ["black-dress-2", "white-dress"] and got[2] in {"black-coat", "black-jacket"}


def test_image_choice_keeps_looks_like(colour_shop, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SIMILAR_VECTOR": "image"}
    got = _names(recommend("similar", product_key=colour_shop["black-dress"], limit=3), colour_shop)
    assert got == ["black-dress-2", "black-coat", "black-jacket"]


def test_image_weight_moves_between_looks_and_description(colour_shop, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SIMILAR_IMAGE_WEIGHT": 0.9}
    looks = _names(recommend("similar", product_key=colour_shop["black-dress"], limit=2), colour_shop)
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SIMILAR_IMAGE_WEIGHT": 0.0}
    described = _names(recommend("similar", product_key=colour_shop["black-dress"], limit=2), colour_shop)
    assert looks == ["black-dress-2", "black-coat"]
    assert described[1] == "white-dress"


def test_product_without_image_vector_is_compared_on_its_text(colour_shop):
    version = ModelVersion.objects.get()
    version.product_vectors.filter(product_key=colour_shop["black-dress"]).update(image_embedding=None)
    got = _names(recommend("similar", product_key=colour_shop["black-dress"], limit=2), colour_shop)
    assert set(got) == {"black-dress-2", "white-dress"}


def test_other_products_without_image_vector_are_scored_on_their_text(colour_shop, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SIMILAR_IMAGE_WEIGHT": 0.8}
    version = ModelVersion.objects.get()
    version.product_vectors.filter(product_key=colour_shop["white-dress"]).update(image_embedding=None)
    got = _names(recommend("similar", product_key=colour_shop["black-dress"], limit=2), colour_shop)
    # Its text alone (0.99 like the black dress) ranks it, not a missing image counted as 0 (0.2).
    assert got == ["black-dress-2", "white-dress"]


@pytest.mark.parametrize(
    "override",
    [{"SIMILAR_VECTOR": "colour"}, {"SIMILAR_IMAGE_WEIGHT": 1.5}, {"SIMILAR_IMAGE_WEIGHT": "half"}],
)
def test_bad_similar_settings_are_e007_and_a_clear_error(colour_shop, settings, override):
    settings.RECOMMENDER = {**settings.RECOMMENDER, **override}
    errors = [e for e in run_checks() if e.id == "recommender.E007"]
    assert len(errors) == 1 and "SIMILAR_" in errors[0].msg
    with pytest.raises(ImproperlyConfigured, match="SIMILAR_"):
        recommend("similar", product_key=colour_shop["black-dress"])
    assert recommend("trending").keys  # other strategies keep serving (New in: no events yet)
    settings.RECOMMENDER = {k: v for k, v in settings.RECOMMENDER.items() if k not in override}
    assert recommend("similar", product_key=colour_shop["black-dress"], limit=1).keys


def test_nearest_blend_matches_the_exact_weighted_mean():
    version = encoder_version(16)
    images = clustered_vectors(300, 16, 6, seed=1)
    texts = clustered_vectors(300, 16, 9, seed=2)
    store_vectors(
        version,
        [
            VectorRow(
                key=f"p{i}",
                embedding=images[i],
                image_embedding=images[i],
                text_embedding=texts[i],
                category="odd" if i % 2 else "even",
            )
            for i in range(300)
        ],
    )
    ensure_indexes(version)
    query_image, query_text = images[0], texts[0]
    got = nearest_blend(
        [("image_embedding", query_image, 0.3), ("text_embedding", query_text, 0.7)],
        version=version,
        k=10,
        filters=VectorFilter(categories=["odd"], exclude_keys=["p1"]),
    )
    scores = 0.3 * images @ query_image + 0.7 * texts @ query_text
    expected = [f"p{i}" for i in np.argsort(-scores) if i % 2 and i != 1][:10]
    assert [key for key, _ in got] == expected
    assert [score for _, score in got] == pytest.approx(
        sorted(scores[[int(k[1:]) for k in expected]], reverse=True), abs=1e-5
    )


def test_nearest_blend_rejects_bad_parts():
    version = encoder_version(4)
    with pytest.raises(ValueError, match="Unknown vector column"):
        nearest_blend([("price", np.ones(4), 1.0)], version=version)
    with pytest.raises(ValueError, match="finite number"):
        nearest_blend([("image_embedding", np.ones(4), float("nan"))], version=version)
