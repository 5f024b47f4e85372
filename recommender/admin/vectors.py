"""Product vectors: read-only rows with status, re-embed / retry actions, "reindex all" and progress.

Vectors are never rendered as text: the detail page shows each vector's dimension and first
few numbers. Re-embedding marks the rows pending first, so the list and the progress page show
the work until a worker (or eager Celery) finishes it, and ``recommender.embed_pending`` catches
up if the task is lost.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar

import numpy as np
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from recommender import tasks
from recommender.admin.base import AppManagedRows, badge, require_perm, send_task, view_context
from recommender.admin.status import index_status
from recommender.conf import app_settings
from recommender.indexing import batched
from recommender.models import ModelVersion, ProductVector
from recommender.storage import VECTOR_COLUMNS

# Numbers of each vector shown on the detail page: enough to tell vectors apart, not a wall of text.
VECTOR_PREVIEW = 6


def stale_q() -> Q:
    """Rows that do not reflect the serving state: of a retired version, or waiting to be embedded."""
    return Q(version__state=ModelVersion.State.RETIRED) | Q(status=ProductVector.Status.PENDING)


class StaleFilter(admin.SimpleListFilter):
    title = _("stale")
    parameter_name = "stale"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(stale_q())
        if self.value() == "no":
            return queryset.exclude(stale_q())
        return queryset


class HasImageVectorFilter(admin.SimpleListFilter):
    title = _("has image vector")
    parameter_name = "has_image"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", _("Yes")), ("no", _("No (text only)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(image_embedding__isnull=False)
        if self.value() == "no":
            return queryset.filter(image_embedding__isnull=True)
        return queryset


def enqueue_reembedding(rows: QuerySet) -> int:
    """Mark these rows pending and, after commit, queue them for a forced re-embedding per version."""
    keys_by_version: dict[int, list[str]] = defaultdict(list)
    for version_id, key in rows.values_list("version_id", "product_key").order_by("version_id", "product_key"):
        keys_by_version[version_id].append(key)
    count = ProductVector.objects.filter(pk__in=rows.values("pk")).update(
        status=ProductVector.Status.PENDING, updated_at=timezone.now()
    )

    def send() -> None:
        for version_id, keys in keys_by_version.items():
            for batch in batched(keys, app_settings.EMBED_BATCH_SIZE):
                tasks.enqueue_embedding(batch, version_ids=[version_id], force=True)

    transaction.on_commit(send)
    return count


@admin.register(ProductVector)
class ProductVectorAdmin(AppManagedRows, admin.ModelAdmin):
    list_display = (
        "product_key",
        "title",
        "version_name",
        "status_display",
        "category",
        "price_display",
        "in_stock",
        "has_image_vector",
        "updated_at",
    )
    list_filter = (
        "status",
        StaleFilter,
        ("version", admin.RelatedOnlyFieldListFilter),
        "category",
        "in_stock",
        HasImageVectorFilter,
    )
    search_fields = ("^product_key", "title")
    list_select_related = ("version",)
    show_full_result_count = False  # spares a COUNT(*) of the whole table on every filtered page
    actions = ("reembed_selected", "retry_failed")
    fields = (
        "product",
        "version",
        "status_display",
        "error",
        "title",
        "category",
        "price",
        "in_stock",
        "sellable",
        "content_hash",
        "updated_at",
        "vector_summary",
    )
    readonly_fields = fields

    class Media:
        css: ClassVar[dict[str, tuple[str, ...]]] = {"all": ("recommender/admin/admin.css",)}

    # --- permissions: rows come from the pipeline, never typed in (AppManagedRows) ------------
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Without an object this gates the actions; a row itself is never edited.
        return obj is None and super().has_change_permission(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        has_image = ExpressionWrapper(Q(image_embedding__isnull=False), output_field=BooleanField())
        return super().get_queryset(request).defer(*VECTOR_COLUMNS).annotate(_has_image=has_image)

    # --- columns ----------------------------------------------------------------------------
    @admin.display(description=_("status"), ordering="status")
    def status_display(self, row: ProductVector) -> str:
        parts = [badge(row.status, row.get_status_display())]
        if row.status == ProductVector.Status.FAILED and row.error:
            parts.append(format_html(" {}", Truncator(row.error).chars(80)))
        if row.status == ProductVector.Status.PENDING or row.version.state == ModelVersion.State.RETIRED:
            parts.append(format_html(" {}", badge("stale", _("stale"))))
        return format_html_join("", "{}", ((part,) for part in parts))

    @admin.display(description=_("model version"), ordering="version")
    def version_name(self, row: ProductVector) -> str:
        return row.version.name

    @admin.display(description=_("price"), ordering="price")
    def price_display(self, row: ProductVector) -> str:
        return "—" if row.price is None else f"{row.price:.2f}"

    @admin.display(description=_("image vector"), boolean=True, ordering="_has_image")
    def has_image_vector(self, row: ProductVector) -> bool:
        return bool(row._has_image)

    @admin.display(description=_("product"))
    def product(self, row: ProductVector) -> str:
        from recommender.catalog import get_adapter

        model = get_adapter().model
        if self.admin_site.is_registered(model):
            try:
                url = reverse(
                    f"{self.admin_site.name}:{model._meta.app_label}_{model._meta.model_name}_change",
                    args=[row.product_key],
                )
                return format_html('<a href="{}">{}</a>', url, row.product_key)
            except NoReverseMatch:
                pass
        return row.product_key

    @admin.display(description=_("vectors"))
    def vector_summary(self, row: ProductVector) -> str:
        lines = []
        for column, label in (
            ("embedding", _("fused")),
            ("image_embedding", _("image")),
            ("text_embedding", _("text")),
        ):
            vector = getattr(row, column)
            if vector is None:
                lines.append((label, "—", ""))
                continue
            values = np.asarray(vector, dtype=np.float32).reshape(-1)
            head = ", ".join(f"{x:+.4f}" for x in values[:VECTOR_PREVIEW])
            lines.append((label, _("%(n)d dimensions") % {"n": values.shape[0]}, f"[{head}, …]"))
        return format_html(
            '<table class="recommender-table recommender-vector">{}</table>',
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", lines),
        )

    # --- actions ------------------------------------------------------------------------------
    @admin.action(description=_("Re-embed selected products"), permissions=["change"])
    def reembed_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = enqueue_reembedding(queryset)
        self.message_user(
            request,
            ngettext("Queued %d product vector for re-embedding.", "Queued %d product vectors for re-embedding.", count)
            % count,
            messages.SUCCESS,
        )

    @admin.action(description=_("Retry all failed rows of the selected rows' versions"), permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet) -> None:
        version_ids = set(queryset.values_list("version_id", flat=True).distinct().order_by())
        failed = ProductVector.objects.filter(version_id__in=version_ids, status=ProductVector.Status.FAILED)
        count = enqueue_reembedding(failed)
        level = messages.SUCCESS if count else messages.INFO
        self.message_user(
            request,
            ngettext("Queued %d failed product vector again.", "Queued %d failed product vectors again.", count)
            % count,
            level,
        )

    # --- reindex all and progress ------------------------------------------------------------
    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("reindex/", wrap(self.reindex_view), name="recommender_productvector_reindex"),
            path("progress/", wrap(self.progress_view), name="recommender_productvector_progress"),
        ] + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra = {"index_status": index_status(), "can_reindex": self._can_reindex(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def _can_reindex(self, request: HttpRequest) -> bool:
        return request.user.has_perm("recommender.change_productvector")

    def reindex_view(self, request: HttpRequest) -> HttpResponse:
        """POST: send ``recommender.reindex`` for the active and any building version."""
        require_perm(request, "change", ProductVector)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        force = request.POST.get("force") == "1"
        version_ids: list[int | None] = [v.pk for v in ModelVersion.objects.maintained()] or [None]
        sent = sum(send_task(request, tasks.reindex, version_id, force) for version_id in version_ids)
        if sent:
            self.message_user(
                request,
                ngettext("Reindexing queued for %d model version.", "Reindexing queued for %d model versions.", sent)
                % sent,
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:recommender_productvector_progress") + "?follow=1")

    def progress_view(self, request: HttpRequest) -> HttpResponse:
        """Counts per maintained version vs the catalog; refreshes itself while work is under way."""
        require_perm(request, "view", ProductVector)
        status = index_status()
        follow = request.GET.get("follow") == "1"
        context = view_context(
            self,
            request,
            _("Indexing progress"),
            index_status=status,
            can_reindex=self._can_reindex(request),
            refresh_seconds=5 if status.busy or (follow and not status.complete) else None,
        )
        return TemplateResponse(request, "admin/recommender/productvector/progress.html", context)
