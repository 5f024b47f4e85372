"""The demo shop: a Django project that uses ``recommender`` the way a customer's shop would."""

# Load the Celery app with Django, so shared tasks bind to it (Celery's Django convention).
from tasks.celery import app as celery_app

__all__ = ["celery_app"]
