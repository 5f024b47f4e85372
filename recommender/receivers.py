"""Signal receivers: keep product vectors in step with the host's catalog.

Connected in ``RecommenderConfig.ready()`` to the configured product model only.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)
