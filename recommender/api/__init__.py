"""The REST API (Django REST framework + drf-spectacular), an optional part of the app.

Mount it in the host's URLconf::

    urlpatterns += [path("api/recommender/", include("recommender.api.urls"))]

and add ``"rest_framework"`` and ``"drf_spectacular"`` to ``INSTALLED_APPS``. Nothing in the
host's ``REST_FRAMEWORK`` or ``SPECTACULAR_SETTINGS`` has to change: the views carry their own
schema class, permissions, renderers and event throttle (with a default rate), and the schema
at ``schema/`` describes these endpoints only. Every view calls ``recommender.recommend`` or
``recommender.events.record_event``, so the API shows what the template tags show.
"""
