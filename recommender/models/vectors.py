"""Product vectors: one row per product per encoder version.

The vector columns have no fixed dimension, so a model with another dimension needs no
migration; each version gets its own partial HNSW expression indexes
(``(embedding::vector(d)) vector_cosine_ops WHERE version_id = N``), created by
``recommender.storage.ensure_indexes``. Filter fields are denormalised here so that a
filtered nearest-neighbour query runs on this one table.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

from recommender.models.versions import ModelVersion


class ProductVector(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        OK = "ok", _("ok")
        FAILED = "failed", _("failed")

    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="product_vectors", verbose_name=_("model version")
    )
    product_key = models.CharField(_("product key"), max_length=64, help_text=_("The host product's primary key."))
    embedding = VectorField(_("fused vector"), null=True, blank=True, editable=False)
    image_embedding = VectorField(_("image vector"), null=True, blank=True, editable=False)
    text_embedding = VectorField(_("text vector"), null=True, blank=True, editable=False)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(_("error"), blank=True, help_text=_("Why embedding failed or lost the image."))
    # Denormalised filter fields (copied from the catalog adapter at embedding time).
    title = models.CharField(_("title"), max_length=300, blank=True)
    # The text the text encoder saw (TEXT_TEMPLATE): also what keyword and typo search match.
    document = models.TextField(_("document"), blank=True)
    category = models.CharField(_("category"), max_length=200, blank=True, db_index=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=4, null=True, blank=True)
    in_stock = models.BooleanField(_("in stock"), default=True)
    sellable = models.BooleanField(_("sellable"), default=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("product vector")
        verbose_name_plural = _("product vectors")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["version", "product_key"], name="recommender_one_vector_per_product"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["product_key"], name="recommender_pv_key_idx"),
            models.Index(fields=["version", "status"], name="recommender_pv_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.product_key} @ v{self.version_id} ({self.status})"
