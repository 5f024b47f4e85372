"""Helpers shared by the recommender's ModelAdmins: permission checks and custom-view context."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext as _


def require_perm(request: HttpRequest, codename: str, model: type) -> None:
    """403 unless the user has ``recommender.<codename>_<model>`` (custom views, after admin_view's login check)."""
    opts = model._meta
    if not request.user.has_perm(f"{opts.app_label}.{codename}_{opts.model_name}"):
        raise PermissionDenied


def view_context(model_admin: admin.ModelAdmin, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    """What the admin's base templates need (site header, sidebar, breadcrumbs) for a custom page."""
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "app_label": model_admin.model._meta.app_label,
        "title": title,
        **extra,
    }


def badge(value: str, label: Any = None) -> str:
    """A coloured status pill (see admin.css: ok, pending, failed, stale, active, …)."""
    return format_html('<span class="recommender-badge {}">{}</span>', value, label if label is not None else value)


def bar(fraction: float) -> str:
    """A small progress bar with the percentage beside it."""
    fraction = min(max(fraction, 0.0), 1.0)
    return format_html(
        '<span class="recommender-bar"><span style="width: {}%"></span></span>{}%',
        f"{fraction * 100:.1f}",
        f"{fraction * 100:.0f}",
    )


class AppManagedRows:
    """ModelAdmin mixin for rows the app creates itself (the settings singleton, vectors, model
    versions): never added or deleted by hand, whatever the user's model permissions say."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(AppManagedRows, admin.ModelAdmin):
    """Logs written by the app itself: viewable with the view permission, never edited by hand."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def send_task(request: HttpRequest, task: Any, *args: Any) -> bool:
    """``task.delay(*args)``; a broker failure becomes an error message instead of a server error."""
    try:
        task.delay(*args)
    except Exception as exc:  # kombu raises many types for an unreachable broker
        if task.app.conf.task_always_eager:
            raise  # eager: the error is in the task itself, not the broker
        messages.error(request, _("Could not queue %(task)s: %(error)s") % {"task": task.name, "error": exc})
        return False
    return True
