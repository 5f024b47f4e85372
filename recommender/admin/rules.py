"""Merchandising rules: pin, boost, bury or exclude products, categories or price ranges.

The model's ``clean()`` checks (a product rule needs a key, a window must end after it starts…)
show up as form errors; the form also checks that a pinned product exists.
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from recommender.admin.forms import MerchandisingRuleForm
from recommender.models import MerchandisingRule
from recommender.receivers import settings_or_rules_changed


def active_now(at=None) -> Q:
    """Enabled and inside the date window (every slot): the list's "active now" column and filter."""
    at = at or timezone.now()
    return (
        Q(enabled=True)
        & (Q(starts_at__isnull=True) | Q(starts_at__lte=at))
        & (Q(ends_at__isnull=True) | Q(ends_at__gt=at))
    )


class SlotFilter(admin.SimpleListFilter):
    title = _("slot")
    parameter_name = "slot"
    EVERY = "__every__"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        slots = model_admin.get_queryset(request).exclude(slot="").values_list("slot", flat=True).distinct()
        return [(self.EVERY, _("every slot (global)"))] + [(slot, slot) for slot in sorted(slots)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == self.EVERY:
            return queryset.filter(slot="")
        if self.value():
            return queryset.filter(slot=self.value())
        return queryset


class ActiveNowFilter(admin.SimpleListFilter):
    title = _("active now")
    parameter_name = "active_now"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(active_now())
        if self.value() == "no":
            return queryset.exclude(active_now())
        return queryset


@admin.register(MerchandisingRule)
class MerchandisingRuleAdmin(admin.ModelAdmin):
    form = MerchandisingRuleForm
    list_display = (
        "name",
        "action",
        "target_description",
        "slot_display",
        "strength",
        "window",
        "enabled",
        "is_active_now",
    )
    list_filter = ("action", "target", "enabled", SlotFilter, ActiveNowFilter)
    search_fields = ("name", "product_key", "category")
    actions = ("enable_rules", "disable_rules")
    fieldsets = (
        (None, {"fields": ["name", "action", "strength", "enabled"]}),
        (
            _("Which products"),
            {"fields": ["target", "product_key", "category", ("min_price", "max_price")]},
        ),
        (
            _("Where and when"),
            {
                "fields": ["slot", ("starts_at", "ends_at")],
                "description": _("Leave the slot empty for every slot, and the dates empty for no limit."),
            },
        ),
    )

    class Media:
        css: ClassVar[dict[str, tuple[str, ...]]] = {"all": ("recommender/admin/admin.css",)}
        js = ("recommender/admin/rules.js",)

    @admin.display(description=_("products"))
    def target_description(self, rule: MerchandisingRule) -> str:
        if rule.target == MerchandisingRule.Target.PRODUCT:
            return _("product %(key)s") % {"key": rule.product_key}
        if rule.target == MerchandisingRule.Target.CATEGORY:
            return _("category “%(category)s”") % {"category": rule.category}
        low = f"{rule.min_price:.2f}" if rule.min_price is not None else "…"
        high = f"{rule.max_price:.2f}" if rule.max_price is not None else "…"
        return _("price %(low)s – %(high)s") % {"low": low, "high": high}

    @admin.display(description=_("slot"), ordering="slot")
    def slot_display(self, rule: MerchandisingRule) -> str:
        return rule.slot or _("every slot")

    @admin.display(description=_("when"), ordering="starts_at")
    def window(self, rule: MerchandisingRule) -> str:
        if rule.starts_at is None and rule.ends_at is None:
            return _("always")

        def day(value) -> str:
            return date_format(timezone.localtime(value), "SHORT_DATE_FORMAT") if value else "…"

        return f"{day(rule.starts_at)} – {day(rule.ends_at)}"

    @admin.display(description=_("active now"), boolean=True)
    def is_active_now(self, rule: MerchandisingRule) -> bool:
        return rule.is_live()

    @admin.action(description=_("Enable selected rules"), permissions=["change"])
    def enable_rules(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(enabled=True)
        settings_or_rules_changed(MerchandisingRule)  # update() sends no post_save
        self.message_user(request, ngettext("Enabled %d rule.", "Enabled %d rules.", count) % count, messages.SUCCESS)

    @admin.action(description=_("Disable selected rules"), permissions=["change"])
    def disable_rules(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(enabled=False)
        settings_or_rules_changed(MerchandisingRule)  # update() sends no post_save
        self.message_user(request, ngettext("Disabled %d rule.", "Disabled %d rules.", count) % count, messages.SUCCESS)
