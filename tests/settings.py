"""Settings for the test suite: the embedded Postgres unless DATABASE_URL is set."""

import json
import os
from pathlib import Path

from recommender.celery_settings import broker_from_env
from recommender.embedded import database_settings

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "recommender",
    "tests.testapp",
    "tests.foreignshop",  # issue 14's foreign shop: UUID sku, cents, stock count, FK category
    "shopdemo.catalog",  # the demo's product model: real-data tests load H&M articles into it
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {"default": database_settings(BASE_DIR / "var" / "pgdata-test")}
# A worker process started by a test connects to the test database pytest-django created.
if os.environ.get("RECOMMENDER_TEST_WORKER_DB"):
    DATABASES["default"]["NAME"] = os.environ["RECOMMENDER_TEST_WORKER_DB"]
else:
    # One test database per test run, so concurrent runs on the shared server never collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_recommender_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"
MEDIA_ROOT = os.environ.get("RECOMMENDER_TEST_MEDIA_ROOT", str(BASE_DIR / "var" / "test-media"))
MEDIA_URL = "/media/"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Tests run tasks in-process unless a test starts a real worker (tests/test_celery_worker.py).
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS, _ = broker_from_env()
if os.environ.get("RECOMMENDER_TEST_WORKER_DB"):
    CELERY_TASK_ALWAYS_EAGER = False

RECOMMENDER = {
    "PRODUCT_MODEL": "testapp.Product",
    "FIELDS": {
        "title": "name",
        "text": ["description", "colour"],
        "image": "image",
        "category": "category",
        "price": "price",
        "in_stock": "in_stock",
    },
    "SELLABLE_FILTER": {"active": True},
    "MODEL_DIR": str(BASE_DIR / "var" / "test-models"),
}

# A worker process started by a test gets the test's RECOMMENDER overrides (JSON).
RECOMMENDER.update(json.loads(os.environ.get("RECOMMENDER_TEST_OVERRIDES", "{}")))
