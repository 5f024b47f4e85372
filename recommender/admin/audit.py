"""The profile access log: which staff member read which user's personal results, and when.

Read-only (``ReadOnlyAdmin``): rows are written by the REST API when a holder of
``recommender.view_profile`` passes ``?user=``; nobody edits or deletes them by hand (retention
prunes them). Seeing the list needs ``recommender.view_profileaccesslog``.
"""

from __future__ import annotations

from django.contrib import admin

from recommender.admin.base import ReadOnlyAdmin
from recommender.models import ProfileAccessLog


@admin.register(ProfileAccessLog)
class ProfileAccessLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "viewer_name", "subject_key", "subject", "endpoint")
    list_filter = ("endpoint",)
    search_fields = ("=viewer_name", "=subject_key")
    list_select_related = ("subject",)
    date_hierarchy = "created_at"
    show_full_result_count = False
