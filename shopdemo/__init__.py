"""The demo shop: a Django project that uses ``recommender`` the way a customer's shop would."""
