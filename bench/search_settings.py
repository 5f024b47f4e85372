"""Settings of the HTTP pass of ``bench/search_latency.py``: the demo shop on the H&M scratch database.

``bench/search_quality.py``'s overrides (no images, text tower in ``var/bench-search/models``),
``DEBUG`` off and a persistent database connection, as a deployment runs.
"""

import os
from pathlib import Path

os.environ.setdefault("DJANGO_DEBUG", "0")

from shopdemo.settings import *

BENCH_DIR = Path(os.environ["SHOPDEMO_DATA_DIR"])
DEBUG = False
DATABASES["default"]["CONN_MAX_AGE"] = 300
RECOMMENDER = {
    **RECOMMENDER,
    "FIELDS": {**RECOMMENDER["FIELDS"], "image": None},
    "SELLABLE_FILTER": {},
    "ENCODER": {"DEVICE": "cpu", "BATCH_SIZE": 64},
    "MODEL_DIR": str(BENCH_DIR / "models"),
}
LOGGING["loggers"]["recommender"]["level"] = "WARNING"
