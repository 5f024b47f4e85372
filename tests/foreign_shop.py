"""Issue 14's foreign shop, indexed by the real pipeline: fixtures for the serving-side tests.

``foreign_shop`` points ``RECOMMENDER`` at ``foreignshop.Item`` (UUID ``sku``, ``headline``/
``blurb``, price in cents, stock as a count, category behind a foreign key, ``listed`` as the
sellable flag), connects the app's catalog receivers to it as ``ready()`` does for the
configured model, creates a few items with real JPEG pictures and embeds them with the tiny
local open_clip model (``tiny_encoder``). Import the fixtures into a test module to use them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.files.base import ContentFile
from django.db.models.signals import post_delete, post_save

from recommender.indexing import reindex
from recommender.receivers import DISPATCH_UID, connect_catalog_receivers
from tests.factories import jpeg_bytes
from tests.foreignshop.models import FOREIGN_SHOP_RECOMMENDER, Item, Section

# headline, section, picture colour, stock count
FOREIGN_ITEMS = [
    ("AUDREY DRESS", "Dresses", (20, 20, 20), 3),
    ("Wrap dress", "Dresses", (200, 30, 40), 5),
    ("Slip dress", "Dresses", (30, 30, 160), 2),
    ("Linen shirt", "Tops", (230, 230, 220), 7),
    ("Striped top", "Tops", (40, 60, 200), 4),
    ("Wool coat", "Coats", (90, 70, 50), 1),
]


@pytest.fixture
def foreign_settings(settings, tiny_encoder) -> Iterator[None]:
    """RECOMMENDER for the foreign shop (with the tiny encoder) and its catalog receivers."""
    settings.RECOMMENDER = {**settings.RECOMMENDER, **FOREIGN_SHOP_RECOMMENDER}
    connect_catalog_receivers()
    yield
    post_save.disconnect(sender=Item, dispatch_uid=DISPATCH_UID)
    post_delete.disconnect(sender=Item, dispatch_uid=DISPATCH_UID)


@pytest.fixture
def foreign_shop(db, foreign_settings) -> dict[str, Item]:
    """The items above, embedded into an active encoder version; headline -> item."""
    sections = {name: Section.objects.create(title=name) for name in {s for _, s, _, _ in FOREIGN_ITEMS}}
    items = {}
    for headline, section, colour, stock in FOREIGN_ITEMS:
        item = Item(
            headline=headline,
            blurb=f"{headline} in {section.lower()}",
            section=sections[section],
            cost_cents=1999 + len(items),
            stock_count=stock,
        )
        item.picture.save(f"{headline.replace(' ', '_').lower()}.jpg", ContentFile(jpeg_bytes(colour)), save=False)
        item.save()
        items[headline] = item
    report = reindex()
    assert report.embedded == len(FOREIGN_ITEMS) and report.failed == 0, report
    return items
