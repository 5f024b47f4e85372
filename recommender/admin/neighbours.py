"""The neighbour tables' builds: when "bought together" and "also viewed" were last counted, how
many pairs they hold and how long the count took, with a button that counts again now.

Serving reads a kind's table once it has been built; an old "built at" here means beat's
``recommender.refresh_neighbours`` has stopped running (see Periodic tasks).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from recommender import tasks
from recommender.admin.base import ReadOnlyAdmin, require_perm, send_task
from recommender.models import NeighbourBuild


@admin.register(NeighbourBuild)
class NeighbourBuildAdmin(ReadOnlyAdmin):
    list_display = ("kind", "built_at", "pairs", "products", "seconds_display", "min_support", "kept")
    change_list_template = "admin/recommender/neighbourbuild/change_list.html"

    @admin.display(description=_("count took"), ordering="seconds")
    def seconds_display(self, build: NeighbourBuild) -> str:
        return f"{build.seconds:.1f} s"

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [path("count/", wrap(self.count_view), name="recommender_neighbourbuild_count")] + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        may_count = request.user.has_perm("recommender.change_neighbourbuild")
        return super().changelist_view(request, extra_context={"may_count": may_count, **(extra_context or {})})

    def count_view(self, request: HttpRequest) -> HttpResponse:
        """POST: send ``recommender.refresh_neighbours`` for every kind."""
        require_perm(request, "change", NeighbourBuild)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if send_task(request, tasks.refresh_neighbours):
            self.message_user(request, _("Counting the neighbours of every product."), messages.SUCCESS)
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:recommender_neighbourbuild_changelist"))
