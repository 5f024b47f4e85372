"""App configuration: wires checks and signal receivers, nothing else."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecommenderConfig(AppConfig):
    name = "recommender"
    label = "recommender"
    verbose_name = _("Recommendations and search")
    # Pinned so hosts with another DEFAULT_AUTO_FIELD get no phantom migrations.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from recommender import checks  # noqa: F401 - registers the system checks
        from recommender.receivers import connect_app_receivers, connect_catalog_receivers

        connect_catalog_receivers()
        connect_app_receivers()
        from recommender.search.receivers import connect as connect_search_receivers

        connect_search_receivers()
        from recommender.behaviour.receivers import connect as connect_behaviour_receivers

        connect_behaviour_receivers()
