from django.apps import AppConfig


class ForeignShopConfig(AppConfig):
    name = "tests.foreignshop"
    label = "foreignshop"
    default_auto_field = "django.db.models.BigAutoField"
