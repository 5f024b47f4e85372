"""The admin panel: every page renders with realistic data, permissions hold, the settings
singleton and merchandising rules validate what shop owners type.

Helpers here (``make_staff``, ``login``, ``png_bytes``, the ``admin_data`` fixture) are imported by
the other ``tests/test_admin_*.py`` files.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from recommender.admin.forms import validate_event_weights
from recommender.models import (
    Event,
    EventType,
    MerchandisingRule,
    ModelVersion,
    ProductVector,
    Profile,
    RecommenderSettings,
    SearchQuery,
    SlotStat,
)
from recommender.storage import VectorRow, store_vectors
from tests.factories import encoder_version
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db

DIMS = 8


# --- helpers shared by the admin test files ----------------------------------------------------
@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The admin_client superuser's password hash would cost a second per test on a busy box."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """RecommenderSettings.get() caches the row; the cache must not outlive the test's database."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def make_staff(django_user_model, *perms: str, username: str = "staff"):
    """A staff user with exactly these ``app_label.codename`` permissions."""
    user = django_user_model.objects.create_user(username, password=None, is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def png_bytes(size: tuple[int, int] = (40, 30)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 90, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def unit(seed: int) -> np.ndarray:
    vec = np.random.default_rng(seed).normal(size=DIMS)
    return (vec / np.linalg.norm(vec)).astype(np.float32)


def vector_rows(version: ModelVersion, products, *, status: str = ProductVector.Status.OK) -> None:
    rows = []
    for n, p in enumerate(products):
        vec = unit(n)
        ok = status == ProductVector.Status.OK
        rows.append(
            VectorRow(
                key=str(p.pk),
                embedding=vec if ok else None,
                image_embedding=vec if ok and n % 2 == 0 else None,
                text_embedding=vec if ok else None,
                status=status,
                error="" if ok else "no text and no usable image",
                title=p.name,
                category=p.category,
                price=p.price,
                in_stock=p.in_stock,
            )
        )
    store_vectors(version, rows)


def catalog(n: int = 4) -> list[Product]:
    names = ["Strappy dress", "Wool coat", "Denim jeans", "Canvas sneakers", "Knit jumper", "Linen shirt"]
    categories = ["Dress", "Coat", "Trousers", "Shoes", "Knitwear", "Shirt"]
    return [
        Product.objects.create(
            name=names[i % 6],
            description=f"{names[i % 6]} in cotton",
            category=categories[i % 6],
            price=Decimal("19.99") + i,
            in_stock=i != 2,
        )
        for i in range(n)
    ]


@pytest.fixture
def model_dir(settings, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    settings.RECOMMENDER = {**settings.RECOMMENDER, "MODEL_DIR": str(folder)}
    return folder


TRAINING_METRICS = {
    "final": {"i2t_r1": 0.21, "i2t_r5": 0.52, "i2t_r10": 0.66, "t2i_r1": 0.25, "t2i_r5": 0.58, "t2i_r10": 0.734},
    "history": [
        {"epoch": 0, "i2t_r10": 0.1, "t2i_r10": 0.12},
        {"epoch": 1, "train_loss": 2.31, "i2t_r10": 0.66, "t2i_r10": 0.734},
    ],
    "train_seconds": 42.5,
    "n_train": 270,
    "n_val": 30,
    "skipped_images": 1,
    "plot": "catalog-clip-1/training.png",
}


@pytest.fixture
def admin_data(model_dir):
    """A small shop's worth of everything the admin shows."""
    products = catalog(4)
    retired = encoder_version(DIMS, state=ModelVersion.State.RETIRED, name="catalog-clip-0")
    ModelVersion.objects.filter(pk=retired.pk).update(activated_at=timezone.now() - timedelta(days=9))
    active = encoder_version(DIMS, state=ModelVersion.State.ACTIVE, name="catalog-clip-1")
    active.metrics = TRAINING_METRICS
    active.activated_at = timezone.now() - timedelta(days=2)
    active.save()
    (model_dir / "catalog-clip-1").mkdir()
    (model_dir / "catalog-clip-1" / "training.png").write_bytes(png_bytes())
    ModelVersion.objects.create(
        kind=ModelVersion.Kind.BEHAVIOUR, name="bpr", state=ModelVersion.State.ACTIVE, metrics={"ndcg_10": 0.21}
    )
    vector_rows(active, products[:3])
    vector_rows(active, products[3:], status=ProductVector.Status.FAILED)
    vector_rows(retired, products[:2])
    MerchandisingRule.objects.create(
        name="Pin the coat", action="pin", target="product", product_key=str(products[1].pk), slot="home"
    )
    MerchandisingRule.objects.create(
        name="Bury shoes", action="bury", target="category", category="Shoes", strength=0.5
    )
    MerchandisingRule.objects.create(
        name="Summer sale",
        action="boost",
        target="price_range",
        min_price=10,
        max_price=30,
        starts_at=timezone.now() - timedelta(days=30),
        ends_at=timezone.now() - timedelta(days=1),
    )
    today = timezone.localdate()
    for days_ago in range(5):
        SlotStat.objects.create(
            day=today - timedelta(days=days_ago),
            slot="home",
            strategy="for_you",
            impressions=100,
            clicks=7,
            conversions=1,
        )
    SearchQuery.objects.create(
        query="Black dress", normalized="black dress", session_hash="a", result_count=12, clicked=True
    )
    SearchQuery.objects.create(query="wellies", normalized="wellies", session_hash="b", result_count=0)
    Event.objects.create(
        type=EventType.CLICK, session_key="s1", product_key=str(products[0].pk), slot="home", strategy="for_you"
    )
    Profile.objects.create(session_key="s1", version=active, vector=unit(7).tolist(), event_count=1)
    RecommenderSettings.get()
    return {"products": products, "active": active, "retired": retired}


def recommender_admins():
    return [(m, a) for m, a in admin.site._registry.items() if m._meta.app_label == "recommender"]


CUSTOM_PAGES = [
    "admin:recommender_analytics",
    "admin:recommender_productvector_progress",
    "admin:recommender_modelversion_train",
]


# --- every page renders ------------------------------------------------------------------------
def test_every_changelist_and_change_page_renders_for_a_superuser(admin_client, admin_data):
    models = {m._meta.model_name for m, _a in recommender_admins()}
    assert {"recommendersettings", "merchandisingrule", "productvector", "modelversion", "slotstat"} <= models
    for model, _model_admin in recommender_admins():
        name = model._meta.model_name
        response = admin_client.get(reverse(f"admin:recommender_{name}_changelist"), follow=True)
        assert response.status_code == 200, name
        for obj in model.objects.all()[:3]:
            response = admin_client.get(reverse(f"admin:recommender_{name}_change", args=[obj.pk]))
            assert response.status_code == 200, (name, obj.pk)


def test_custom_pages_and_the_app_index_render(admin_client, admin_data):
    for name in CUSTOM_PAGES:
        assert admin_client.get(reverse(name)).status_code == 200, name
    index = admin_client.get(reverse("admin:app_list", args=["recommender"]))
    html = index.content.decode()
    for name in CUSTOM_PAGES + ["admin:django_celery_beat_periodictask_changelist"]:
        assert f'href="{reverse(name)}"' in html, name


def test_lists_show_the_data(admin_client, admin_data):
    html = admin_client.get(reverse("admin:recommender_productvector_changelist")).content.decode()
    assert "Strappy dress" in html and "no text and no usable image" in html
    assert html.count('class="recommender-badge stale"') == 2  # the retired version's rows
    html = admin_client.get(reverse("admin:recommender_modelversion_changelist")).content.decode()
    assert "0.734" in html and "catalog-clip-0" in html and "Roll back to it" in html
    html = admin_client.get(reverse("admin:recommender_merchandisingrule_changelist")).content.decode()
    assert "category “Shoes”" in html and "price 10.00 – 30.00" in html


# --- permissions -------------------------------------------------------------------------------
def _urls(data) -> list[str]:
    return [reverse(name) for name in CUSTOM_PAGES] + [
        reverse("admin:recommender_analytics_chart", args=["ctr"]),
        reverse("admin:recommender_modelversion_plot", args=[data["active"].pk]),
        reverse("admin:recommender_productvector_changelist"),
        reverse("admin:recommender_recommendersettings_changelist"),
        reverse("admin:recommender_recommendersettings_change", args=[1]),
    ]


def test_anonymous_users_are_sent_to_the_login_page(client, admin_data):
    for url in _urls(admin_data):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login")), url
    response = client.post(reverse("admin:recommender_productvector_reindex"))
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_staff_without_permissions_get_403(django_user_model, admin_data):
    client = login(make_staff(django_user_model))
    for url in _urls(admin_data):
        assert client.get(url).status_code == 403, url
    for name in ("admin:recommender_productvector_reindex", "admin:recommender_modelversion_rollback"):
        assert client.post(reverse(name)).status_code == 403
    index = client.get(reverse("admin:index"))
    assert "Recommendations and search" not in index.content.decode()


def test_view_only_staff_can_look_but_not_change(django_user_model, admin_data):
    perms = [
        "recommender.view_productvector",
        "recommender.view_modelversion",
        "recommender.view_slotstat",
        "recommender.view_recommendersettings",
        "recommender.view_merchandisingrule",
    ]
    client = login(make_staff(django_user_model, *perms))
    for url in _urls(admin_data):
        if "/train/" in url:
            assert client.get(url).status_code == 403  # training needs add_modelversion
        else:
            assert client.get(url, follow=True).status_code == 200, url
    page = client.get(reverse("admin:recommender_productvector_changelist")).content.decode()
    assert "Reindex all" not in page and "reembed_selected" not in page
    assert client.post(reverse("admin:recommender_productvector_reindex")).status_code == 403
    assert client.post(reverse("admin:recommender_modelversion_rollback")).status_code == 403

    settings_url = reverse("admin:recommender_recommendersettings_change", args=[1])
    assert 'name="image_weight"' not in client.get(settings_url).content.decode()
    assert client.post(settings_url, settings_post(image_weight="0.1")).status_code == 403
    assert RecommenderSettings.objects.get().image_weight == 0.5

    rule = MerchandisingRule.objects.get(name="Bury shoes")
    changelist = reverse("admin:recommender_merchandisingrule_changelist")
    client.post(changelist, {"action": "disable_rules", "_selected_action": [rule.pk]})
    rule.refresh_from_db()
    assert rule.enabled is True


def test_change_permission_allows_the_actions(django_user_model, admin_data):
    client = login(
        make_staff(django_user_model, "recommender.view_merchandisingrule", "recommender.change_merchandisingrule")
    )
    rule = MerchandisingRule.objects.get(name="Bury shoes")
    client.post(
        reverse("admin:recommender_merchandisingrule_changelist"),
        {"action": "disable_rules", "_selected_action": [rule.pk]},
    )
    rule.refresh_from_db()
    assert rule.enabled is False


# --- settings singleton ------------------------------------------------------------------------
def settings_post(**overrides: str) -> dict[str, str]:
    data = {
        "image_weight": "0.5",
        "profile_half_life_days": "14",
        "diversity_lambda": "0.8",
        "exclude_purchased": "True",  # always exclude (the choices: "", "True", "False")
        "cache_seconds": "300",
        "suggestion_min_sessions": "3",
        "slot_strategies": "home = for_you\nproduct = similar\ncart = bought_together",
    }
    defaults = {"view": "1", "click": "2", "add_to_cart": "4", "purchase": "6", "search": "1.5"}
    for value, _label in EventType.choices:
        data[f"event_weights_{value}"] = defaults.get(value, "1")
    data.update(overrides)
    return data


SETTINGS_URL = "/admin/recommender/recommendersettings/1/change/"


def test_settings_changelist_opens_the_single_row_and_rows_cannot_be_added_or_deleted(admin_client):
    response = admin_client.get(reverse("admin:recommender_recommendersettings_changelist"))
    assert response.status_code == 302 and response["Location"] == SETTINGS_URL
    assert RecommenderSettings.objects.count() == 1
    assert admin_client.get(reverse("admin:recommender_recommendersettings_add")).status_code == 403
    assert admin_client.get(reverse("admin:recommender_recommendersettings_delete", args=[1])).status_code == 403
    html = admin_client.get(SETTINGS_URL).content.decode()
    for value, _label in EventType.choices:  # one number field per event type, not raw JSON
        assert f'name="event_weights_{value}"' in html and 'type="number"' in html
    assert 'name="event_weights"' not in html


def test_saved_settings_take_effect_without_restart(admin_client):
    assert RecommenderSettings.get().image_weight == 0.5  # now cached
    response = admin_client.post(
        SETTINGS_URL,
        settings_post(
            image_weight="0.3", event_weights_purchase="9", slot_strategies="home: trending\nsearch_page = popular"
        ),
    )
    assert response.status_code == 302 and response["Location"] == SETTINGS_URL
    current = RecommenderSettings.get()
    assert current.image_weight == 0.3
    assert current.event_weights["purchase"] == 9.0 and set(current.event_weights) == set(EventType.values)
    assert current.slot_strategies == {"home": "trending", "search_page": "popular"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"event_weights_purchase": "-1"}, "purchase: the weight must be zero or more."),
        ({"event_weights_click": "lots"}, "click: enter a number."),
        ({"event_weights_view": ""}, "view: enter a weight."),
        ({"slot_strategies": "home for_you"}, "Line 1: write “slot = strategy”"),
        ({"slot_strategies": "home = a\nhome = b"}, "Line 2: the slot “home” is listed twice."),
        ({"image_weight": "1.5"}, "Ensure this value is less than or equal to 1.0."),
    ],
)
def test_bad_settings_are_rejected_with_a_message(admin_client, overrides, message):
    RecommenderSettings.get()
    response = admin_client.post(SETTINGS_URL, settings_post(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert RecommenderSettings.get().event_weights["purchase"] == 6.0 and RecommenderSettings.get().image_weight == 0.5


def test_settings_show_the_active_encoder_with_a_link(admin_client, admin_data):
    html = admin_client.get(SETTINGS_URL).content.decode()
    url = reverse("admin:recommender_modelversion_change", args=[admin_data["active"].pk])
    assert f'<a href="{url}">catalog-clip-1</a>' in html


def test_validate_event_weights():
    good = {value: 1 for value in EventType.values}
    assert validate_event_weights(good) == {value: 1.0 for value in EventType.values}
    bad_cases = [
        ({**good, "wishlist": 1}, "Unknown event types: wishlist"),
        ({k: v for k, v in good.items() if k != "search"}, "Missing event types: search"),
        ({**good, "view": -0.5}, "“view” must be a number of zero or more"),
        ({**good, "view": True}, "“view” must be a number"),
        ({**good, "view": float("nan")}, "“view” must be a number"),
        ({**good, "view": "2"}, "“view” must be a number"),
        (["view", 1], "must be a mapping"),
    ]
    for value, message in bad_cases:
        with pytest.raises(Exception) as info:
            validate_event_weights(value)
        assert message in " ".join(info.value.messages), value


# --- merchandising rules -----------------------------------------------------------------------
RULE_ADD = "/admin/recommender/merchandisingrule/add/"


def rule_post(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Rule",
        "action": "boost",
        "target": "category",
        "product_key": "",
        "category": "Dress",
        "min_price": "",
        "max_price": "",
        "slot": "",
        "strength": "1.0",
        "enabled": "on",
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": "",
        "ends_at_1": "",
        "created_at_0": "2026-01-01",
        "created_at_1": "10:00:00",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"category": ""}, "A category rule needs a category."),
        ({"target": "product", "category": ""}, "A product rule needs a product key."),
        ({"target": "product", "product_key": "999999"}, "There is no product with the key “999999” in the catalog."),
        ({"target": "price_range"}, "A price-range rule needs a minimum or a maximum price."),
        ({"target": "price_range", "min_price": "50", "max_price": "20"}, "The maximum price is below the minimum."),
        (
            {"starts_at_0": "2026-02-01", "starts_at_1": "10:00", "ends_at_0": "2026-01-01", "ends_at_1": "10:00"},
            "The rule ends before it starts.",
        ),
    ],
)
def test_rule_validation_is_shown_in_the_form(admin_client, overrides, message):
    response = admin_client.post(RULE_ADD, rule_post(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not MerchandisingRule.objects.exists()


def test_a_valid_rule_is_saved(admin_client):
    product = catalog(1)[0]
    response = admin_client.post(
        RULE_ADD, rule_post(target="product", category="", product_key=str(product.pk), action="pin", slot="home")
    )
    assert response.status_code == 302
    rule = MerchandisingRule.objects.get()
    assert (rule.action, rule.target, rule.product_key, rule.slot) == ("pin", "product", str(product.pk), "home")


def test_rule_filters_and_active_indicator(admin_client, admin_data):
    url = reverse("admin:recommender_merchandisingrule_changelist")

    def names(query: str) -> set[str]:
        return {r.name for r in admin_client.get(url + query).context["cl"].result_list}

    assert names("?active_now=yes") == {"Pin the coat", "Bury shoes"}
    assert names("?active_now=no") == {"Summer sale"}
    assert names("?slot=__every__") == {"Bury shoes", "Summer sale"}
    assert names("?slot=home") == {"Pin the coat"}
    assert names("?action__exact=bury") == {"Bury shoes"}
    assert names("?target__exact=price_range") == {"Summer sale"}
    MerchandisingRule.objects.filter(name="Bury shoes").update(enabled=False)
    assert names("?enabled__exact=0") == {"Bury shoes"} and names("?active_now=yes") == {"Pin the coat"}
    model_admin = admin.site._registry[MerchandisingRule]
    active = {r.name: model_admin.is_active_now(r) for r in MerchandisingRule.objects.all()}
    assert active == {"Pin the coat": True, "Bury shoes": False, "Summer sale": False}


def test_bulk_enable_and_disable(admin_client, admin_data):
    url = reverse("admin:recommender_merchandisingrule_changelist")
    pks = list(MerchandisingRule.objects.values_list("pk", flat=True))
    admin_client.post(url, {"action": "disable_rules", "_selected_action": pks})
    assert not MerchandisingRule.objects.filter(enabled=True).exists()
    admin_client.post(url, {"action": "enable_rules", "_selected_action": pks[:1]})
    assert list(MerchandisingRule.objects.filter(enabled=True).values_list("pk", flat=True)) == pks[:1]
