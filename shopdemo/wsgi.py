import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopdemo.settings")
application = get_wsgi_application()

# Load the search query encoder (ONNX, no torch) now, not on the first shopper's search; under
# `gunicorn --preload` the workers share it copy-on-write. Off: RECOMMENDER["PRELOAD_QUERY_ENCODER"].
from recommender.query_encoders import preload_query_encoder

preload_query_encoder()
