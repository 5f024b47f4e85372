"""A host shop the app was never built around (issue 14's foreign shop).

UUID primary key ``sku``, ``headline``/``blurb`` texts, an ImageField ``picture``, the price in
cents, stock as a count, the category behind a foreign key (``section.title``) and no
``get_absolute_url()``. Tests point ``RECOMMENDER`` at it with :data:`FOREIGN_SHOP_RECOMMENDER`.
"""

import uuid

from django.db import models


class Section(models.Model):
    title = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.title


class Item(models.Model):
    sku = models.UUIDField(primary_key=True, default=uuid.uuid4)
    headline = models.CharField(max_length=200)
    blurb = models.TextField(blank=True)
    picture = models.ImageField(upload_to="items/", blank=True)
    cost_cents = models.PositiveIntegerField(default=0)
    stock_count = models.IntegerField(default=0)
    section = models.ForeignKey(Section, null=True, blank=True, on_delete=models.SET_NULL)
    listed = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.headline


#: What its owner puts in settings, following only the README: no adapter subclass.
FOREIGN_SHOP_RECOMMENDER = {
    "PRODUCT_MODEL": "foreignshop.Item",
    "FIELDS": {
        "title": "headline",
        "text": ["blurb"],
        "image": "picture",
        "category": "section.title",
        "price": ("cost_cents", "0.01"),
        "in_stock": "stock_count",
        "url": "store:item",
    },
    "SELLABLE_FILTER": {"listed": True},
    "TEXT_TEMPLATE": "{title}. {category}. {text}",
}
