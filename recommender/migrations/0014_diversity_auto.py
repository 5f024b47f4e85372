"""``diversity_lambda`` may be blank: "auto" (the new default) diversifies "for you" as far as it
cost nothing on the shop's validation shoppers when the behaviour model was trained
(:mod:`recommender.training.behaviour.diversity_cost`), other lists with 0.8.

Existing rows that kept the old default (0.8) move to auto, as ``0011`` moved ``exclude_purchased``:
0.8 was the value a shop that never touched the setting had. Any other λ is the owner's and stays.
"""

import django.core.validators
from django.db import migrations, models

OLD_DEFAULT = 0.8


def to_auto(apps, schema_editor) -> None:
    apps.get_model("recommender", "RecommenderSettings").objects.filter(diversity_lambda=OLD_DEFAULT).update(
        diversity_lambda=None
    )


def from_auto(apps, schema_editor) -> None:
    apps.get_model("recommender", "RecommenderSettings").objects.filter(diversity_lambda__isnull=True).update(
        diversity_lambda=OLD_DEFAULT
    )


class Migration(migrations.Migration):
    dependencies = [("recommender", "0013_product_neighbours")]

    operations = [
        migrations.AlterField(
            model_name="recommendersettings",
            name="diversity_lambda",
            field=models.FloatField(
                blank=True,
                default=None,
                help_text=(
                    'MMR trade-off: 1 = relevance only, 0 = diversity only. Blank (auto): "for you" diversifies '
                    "as far as it cost nothing on the shop's validation shoppers when the behaviour model was "
                    "trained; other lists use 0.8."
                ),
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(0.0),
                    django.core.validators.MaxValueValidator(1.0),
                ],
                verbose_name="diversity λ",
            ),
        ),
        migrations.RunPython(to_auto, from_auto),
    ]
