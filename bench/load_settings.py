"""Settings of the HTTP load test (``bench/load_test.py``): the demo shop's, tuned like a deployment.

The demo's settings on their own embedded Postgres in ``SHOPDEMO_DATA_DIR`` (the load test sets
``var/bench-load``), with ``DEBUG`` off, persistent database connections (one per gunicorn
worker) and the event throttle raised so that one client machine is not refused. Tasks run
eagerly in the web process, as in the demo without a broker.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "0")

from shopdemo.settings import *

DEBUG = False
# A deployment keeps connections open; each gunicorn worker holds one.
DATABASES["default"]["CONN_MAX_AGE"] = 300
# Every load-test request comes from 127.0.0.1: the default 120/min per IP would refuse almost
# all events. Raised, not switched off, so the throttle's cache round trip is still measured.
REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"recommender-events": "10000000/min"}}
LOGGING["loggers"]["recommender"]["level"] = "WARNING"
