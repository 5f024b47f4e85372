"""Merchandising rules from the admin: pin, boost, bury or exclude products.

A rule targets one product, a category or a price range; applies to one slot or all; and
may be limited to a date window.
"""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MerchandisingRuleQuerySet(models.QuerySet):
    def active(self, slot: str = "", at=None) -> MerchandisingRuleQuerySet:
        """Enabled rules in their date window that apply to ``slot`` (or to every slot)."""
        return self.in_window(at).filter(Q(slot="") | Q(slot=slot))

    def in_window(self, at=None) -> MerchandisingRuleQuerySet:
        """Enabled rules in their date window, whatever their slot (a page reads them once for
        all its slots; a rule applies to its own slot and, with an empty slot, to every one)."""
        at = at or timezone.now()
        qs = self.filter(enabled=True).filter(Q(starts_at__isnull=True) | Q(starts_at__lte=at))
        return qs.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))


class MerchandisingRule(models.Model):
    class Action(models.TextChoices):
        PIN = "pin", _("pin to the top")
        BOOST = "boost", _("boost")
        BURY = "bury", _("bury")
        EXCLUDE = "exclude", _("exclude")

    class Target(models.TextChoices):
        PRODUCT = "product", _("product")
        CATEGORY = "category", _("category")
        PRICE_RANGE = "price_range", _("price range")

    name = models.CharField(_("name"), max_length=200)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    target = models.CharField(_("applies to"), max_length=16, choices=Target.choices)
    product_key = models.CharField(_("product key"), max_length=64, blank=True)
    category = models.CharField(_("category"), max_length=200, blank=True)
    min_price = models.DecimalField(_("min price"), max_digits=12, decimal_places=4, null=True, blank=True)
    max_price = models.DecimalField(_("max price"), max_digits=12, decimal_places=4, null=True, blank=True)
    slot = models.CharField(_("slot"), max_length=64, blank=True, help_text=_("Empty: every slot."))
    strength = models.FloatField(
        _("strength"), default=1.0, help_text=_("Boost/bury amount; for pins, the position order.")
    )
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = MerchandisingRuleQuerySet.as_manager()

    def is_live(self, at=None) -> bool:
        """Enabled and inside its date window at ``at`` (default now): ``in_window()`` for one rule."""
        at = at or timezone.now()
        return bool(
            self.enabled
            and (self.starts_at is None or self.starts_at <= at)
            and (self.ends_at is None or self.ends_at > at)
        )

    class Meta:
        verbose_name = _("merchandising rule")
        verbose_name_plural = _("merchandising rules")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The target's fields must be filled: a rule that matches nothing is a mistake."""
        if self.target == self.Target.PRODUCT and not self.product_key:
            raise ValidationError({"product_key": _("A product rule needs a product key.")})
        if self.target == self.Target.CATEGORY and not self.category:
            raise ValidationError({"category": _("A category rule needs a category.")})
        if self.target == self.Target.PRICE_RANGE:
            if self.min_price is None and self.max_price is None:
                raise ValidationError(_("A price-range rule needs a minimum or a maximum price."))
            if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
                raise ValidationError({"max_price": _("The maximum price is below the minimum.")})
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The rule ends before it starts.")})
