"""The recommender's Django admin: shop owners configure and watch everything here, never in code.

One module per page family: ``config`` (the settings singleton), ``rules`` (merchandising),
``vectors`` (product vectors, reindexing and its progress), ``versions`` (model versions,
training, activation, roll-back), ``analytics`` (slot statistics and the analytics page),
``activity`` (read-only event, search and profile logs), ``audit`` (who read whose
recommendations), ``moderation`` (what search suggestions may show) and ``privacy``
(personalisation opt-outs), ``neighbours`` (when "bought together" and "also viewed" were last
counted) and ``experiments`` (A/B tests and bandits, their results). Custom views live on their ModelAdmin and require the model's
permission (``recommender.view_slotstat`` for analytics, …); periodic tasks are edited in
django-celery-beat's own admin.
"""

from recommender.admin import (  # noqa: F401 - registers
    activity,
    analytics,
    audit,
    config,
    experiments,
    moderation,
    neighbours,
    privacy,
    rules,
    vectors,
    versions,
)

__all__: list[str] = []
