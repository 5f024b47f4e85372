"""Personalisation opt-outs: a shop owner records a shopper's request to stop personalising.

Adding or deleting a row goes through :func:`recommender.privacy.set_personalisation`, so the
shopper's profiles are deleted on opt-out and rebuilt when the row is removed (opt back in).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from recommender.models import PersonalisationOptOut
from recommender.privacy import set_personalisation


@admin.register(PersonalisationOptOut)
class PersonalisationOptOutAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"

    def has_change_permission(self, request: HttpRequest, obj: PersonalisationOptOut | None = None) -> bool:
        return False  # a row is a flag: add it or delete it

    def save_model(self, request: HttpRequest, obj: PersonalisationOptOut, form, change: bool) -> None:
        set_personalisation(obj.user, False)
        obj.pk = PersonalisationOptOut.objects.get(user=obj.user).pk  # the row set_personalisation made

    def delete_model(self, request: HttpRequest, obj: PersonalisationOptOut) -> None:
        set_personalisation(obj.user, True)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PersonalisationOptOut]) -> None:
        for row in queryset.select_related("user"):
            set_personalisation(row.user, True)
