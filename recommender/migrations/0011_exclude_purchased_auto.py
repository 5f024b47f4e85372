"""``exclude_purchased`` becomes a tri-state: None ("auto", the new default) follows the measured
repurchase rate (:mod:`recommender.behaviour.purchase_policy`).

Existing rows that kept the old default (True) move to auto: True was the only value a shop that
never touched the setting could have. A shop that had turned it off keeps False.
"""

from django.db import migrations, models


def to_auto(apps, schema_editor) -> None:
    apps.get_model("recommender", "RecommenderSettings").objects.filter(exclude_purchased=True).update(
        exclude_purchased=None
    )


def from_auto(apps, schema_editor) -> None:
    apps.get_model("recommender", "RecommenderSettings").objects.filter(exclude_purchased__isnull=True).update(
        exclude_purchased=True
    )


class Migration(migrations.Migration):
    dependencies = [("recommender", "0010_experiments")]

    operations = [
        migrations.AlterField(
            model_name="recommendersettings",
            name="exclude_purchased",
            field=models.BooleanField(
                blank=True,
                choices=[
                    (None, "Auto: offer to buy again when re-buying is common"),
                    (True, "Always exclude purchased products"),
                    (False, "Never exclude purchased products"),
                ],
                default=None,
                help_text=(
                    'Auto keeps purchased products in recommendations ("Buy again") when the share of purchases '
                    "that repeat an earlier one, measured when the behaviour model was trained, reaches "
                    'RECOMMENDER["BUY_AGAIN_MIN_REPURCHASE_RATE"]; otherwise it excludes them.'
                ),
                null=True,
                verbose_name="exclude purchased products",
            ),
        ),
        migrations.RunPython(to_auto, from_auto),
    ]
