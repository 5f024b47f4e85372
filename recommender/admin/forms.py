"""Admin forms: friendly editors for the settings singleton's JSON, rules, training and analytics.

Shop owners never see raw JSON: event weights get one number field per event type
(:class:`EventWeightsField`), and the default strategy per slot is edited as ``slot = strategy``
lines (:class:`SlotStrategiesField`). :func:`validate_event_weights` checks any stored value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from recommender.models import EventType, MerchandisingRule, RecommenderSettings
from recommender.training.defaults import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_IMAGE_SIZE, DEFAULT_LR

__all__ = [
    "AnalyticsPeriodForm",
    "EventWeightsField",
    "MerchandisingRuleForm",
    "RecommenderSettingsForm",
    "SlotStrategiesField",
    "TrainEncoderForm",
    "validate_event_weights",
]

# "home = for_you" (":" accepted too); slot and strategy names are slugs.
SLOT_LINE = re.compile(r"^([-a-zA-Z0-9_]+)\s*[=:]\s*([-a-zA-Z0-9_]+)$")


def event_types() -> list[tuple[str, str]]:
    """(value, label) of every event type, in declaration order."""
    return [(value, str(label)) for value, label in EventType.choices]


def validate_event_weights(value: Any) -> dict[str, float]:
    """The weights as floats; ValidationError unless the keys are exactly the event types and
    every value is a finite number >= 0 (booleans are not numbers here)."""
    if not isinstance(value, Mapping):
        raise ValidationError(_("Event weights must be a mapping of event type to number."), code="invalid")
    expected = {key for key, _label in event_types()}
    unknown = sorted(set(value) - expected)
    missing = sorted(expected - set(value))
    errors = []
    if unknown:
        errors.append(
            ValidationError(_("Unknown event types: %(keys)s."), code="unknown", params={"keys": ", ".join(unknown)})
        )
    if missing:
        errors.append(
            ValidationError(_("Missing event types: %(keys)s."), code="missing", params={"keys": ", ".join(missing)})
        )
    cleaned: dict[str, float] = {}
    for key in sorted(set(value) & expected):
        weight = value[key]
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            errors.append(
                ValidationError(
                    _("The weight of “%(key)s” must be a number of zero or more, not %(value)r."),
                    code="invalid_weight",
                    params={"key": key, "value": weight},
                )
            )
        else:
            cleaned[key] = float(weight)
    if errors:
        raise ValidationError(errors)
    return {key: cleaned[key] for key, _label in event_types()}


class LabelledMultiWidget(forms.MultiWidget):
    """Number inputs side by side, each with its own label (a MultiWidget has none)."""

    template_name = "admin/recommender/widgets/labelled_multi.html"

    def __init__(self, items: Sequence[tuple[str, str]], attrs: dict | None = None) -> None:
        self.items = list(items)
        widgets = {
            key: forms.NumberInput(attrs={"step": "any", "min": "0", "class": "recommender-number"})
            for key, _label in self.items
        }
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[Any]:
        value = value if isinstance(value, Mapping) else {}
        return [value.get(key) for key, _label in self.items]

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)
        for sub, (_key, label) in zip(context["widget"]["subwidgets"], self.items, strict=True):
            sub["label"] = label
        return context


class EventWeightsField(forms.MultiValueField):
    """One "zero or more" number per event type, cleaned into the stored ``{type: weight}`` dict."""

    def __init__(self, **kwargs: Any) -> None:
        self.items = event_types()
        fields = [
            forms.FloatField(
                min_value=0.0,
                error_messages={
                    "incomplete": format_lazy(_("{label}: enter a weight."), label=label),
                    "invalid": format_lazy(_("{label}: enter a number."), label=label),
                    "min_value": format_lazy(_("{label}: the weight must be zero or more."), label=label),
                },
            )
            for _key, label in self.items
        ]
        kwargs.setdefault("help_text", _("How much each event type counts towards a shopper's profile (0 = ignored)."))
        # require_all_fields=False so that an empty weight reports its own event type ("incomplete").
        super().__init__(fields=fields, widget=LabelledMultiWidget(self.items), require_all_fields=False, **kwargs)

    def compress(self, data_list: list[float]) -> dict[str, float]:
        if not data_list:
            return {}
        return {key: value for (key, _label), value in zip(self.items, data_list, strict=True)}

    def validate(self, value: Any) -> None:
        super().validate(value)
        validate_event_weights(value)


class SlotStrategiesField(forms.CharField):
    """``slot = strategy`` lines <-> ``{"slot": "strategy"}``: owners can add and remove slots."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 40, "class": "recommender-mono"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            _("One slot per line, as <code>slot = strategy</code> (e.g. <code>home = for_you</code>)."),
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return "\n".join(f"{slot} = {strategy}" for slot, strategy in value.items())
        return value

    def to_python(self, value: Any) -> dict[str, str]:
        text = super().to_python(value)
        result: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            match = SLOT_LINE.match(line)
            if match is None:
                raise ValidationError(
                    _("Line %(number)s: write “slot = strategy” with letters, digits, - or _ only (got “%(line)s”)."),
                    code="invalid_line",
                    params={"number": number, "line": line},
                )
            slot, strategy = match.groups()
            if slot in result:
                raise ValidationError(
                    _("Line %(number)s: the slot “%(slot)s” is listed twice."),
                    code="duplicate_slot",
                    params={"number": number, "slot": slot},
                )
            result[slot] = strategy
        return result


class RecommenderSettingsForm(forms.ModelForm):
    event_weights = EventWeightsField(label=_("Event weights"))
    slot_strategies = SlotStrategiesField(label=_("Default strategy per slot"), required=False)

    class Meta:
        model = RecommenderSettings
        fields = (
            "image_weight",
            "profile_half_life_days",
            "event_weights",
            "diversity_lambda",
            "exclude_purchased",
            "cache_seconds",
            "suggestion_min_sessions",
            "slot_strategies",
        )


class MerchandisingRuleForm(forms.ModelForm):
    """The model's clean() does the rule checks; this adds one that needs the catalog."""

    class Meta:
        model = MerchandisingRule
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        key = (data.get("product_key") or "").strip()
        if data.get("target") == MerchandisingRule.Target.PRODUCT and key:
            from recommender.catalog import get_adapter

            if not get_adapter().products_by_keys([key]):
                self.add_error(
                    "product_key", _("There is no product with the key “%(key)s” in the catalog.") % {"key": key}
                )
        return data


class TrainEncoderForm(forms.Form):
    """Options of ``recommender.train_encoder`` (as for ``manage.py recommender_train_encoder``)."""

    epochs = forms.IntegerField(label=_("epochs"), min_value=1, max_value=200, initial=DEFAULT_EPOCHS)
    batch_size = forms.IntegerField(label=_("batch size"), min_value=2, max_value=4096, initial=DEFAULT_BATCH_SIZE)
    lr = forms.FloatField(label=_("learning rate"), min_value=1e-7, max_value=1.0, initial=DEFAULT_LR)
    image_size = forms.IntegerField(
        label=_("image size (px)"),
        min_value=32,
        max_value=512,
        initial=DEFAULT_IMAGE_SIZE,
        help_text=_("Input size of the image tower; larger is slower and usually better."),
    )
    limit = forms.IntegerField(
        label=_("limit"),
        min_value=10,
        required=False,
        help_text=_("Train on the first N products only (empty: the whole catalog)."),
    )
    activate = forms.BooleanField(
        label=_("activate when done"),
        required=False,
        help_text=_("Embed the catalog with the new model beside the active one and switch when complete."),
    )

    def task_options(self) -> dict[str, Any]:
        """The ``options`` argument of the task (JSON-serialisable, no empty values)."""
        data = self.cleaned_data
        options = {key: data[key] for key in ("epochs", "batch_size", "lr", "image_size")}
        if data.get("limit"):
            options["limit"] = data["limit"]
        return options


class AnalyticsPeriodForm(forms.Form):
    """The analytics page's date range: the last 7, 30 or 90 days (30 when missing or bad)."""

    DEFAULT_DAYS = 30
    days = forms.TypedChoiceField(
        label=_("period"),
        coerce=int,
        initial=DEFAULT_DAYS,
        choices=[(7, _("last 7 days")), (30, _("last 30 days")), (90, _("last 90 days"))],
    )

    def selected_days(self) -> int:
        return self.cleaned_data["days"] if self.is_valid() else self.DEFAULT_DAYS
