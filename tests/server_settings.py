"""Settings for a Django server process that a fault test starts (tests/test_faults_postgres.py).

The test suite's settings on the database named by ``DATABASE_URL`` (the test's private
embedded server: a server process must never join the shared test server), persistent
connections when ``RECOMMENDER_TEST_CONN_MAX_AGE`` is set, and ``tests.server_urls`` (the test
API plus a shop-like page with a recommendation slot).
"""

import os

from django.core.exceptions import ImproperlyConfigured

if not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured("tests.server_settings needs DATABASE_URL (a server of the test's own).")

from tests.settings import *

DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("RECOMMENDER_TEST_CONN_MAX_AGE", "0"))
ROOT_URLCONF = "tests.server_urls"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
