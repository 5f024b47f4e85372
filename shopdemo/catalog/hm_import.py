"""Load an H&M-format catalog (articles.csv + images/) into the demo shop's products.

    load_articles(Path("../shared/data/hm_fashion"), limit=500)

Products keep the source's ``article_id`` as primary key, so any result can be checked
against the source. Images are not copied: ``MEDIA_ROOT/hm`` links to the source's
``images/`` folder (the data may not be redistributed, so it never enters the project).
Prices: the source's scaled transaction prices (median per article) times 1,000, a plausible
demo currency. Idempotent: a second run updates rows in place.
"""

from __future__ import annotations

import csv
import gzip
import os
import statistics
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from tqdm import tqdm

from shopdemo.catalog.models import Product

MEDIA_LINK = "hm"
# The source's prices are scaled (median 0.034); x1000 gives shop-like numbers.
PRICE_SCALE = 1000
DEFAULT_PRICE = Decimal("19.99")
TRANSACTION_FILES = ("transactions_history.csv", "transactions_lastweek.csv.gz")


class CatalogSourceError(Exception):
    """The source folder is missing or not in H&M format."""


def read_articles(data_dir: Path) -> list[dict[str, str]]:
    path = data_dir / "articles.csv"
    if not path.exists():
        raise CatalogSourceError(f"{path} not found: expected an H&M-format folder (articles.csv, images/).")
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _open_text(path: Path):
    return gzip.open(path, "rt", newline="") if path.suffix == ".gz" else open(path, newline="")


def median_prices(data_dir: Path) -> dict[str, Decimal]:
    prices: dict[str, list[float]] = defaultdict(list)
    for name in TRANSACTION_FILES:
        path = data_dir / name
        if not path.exists():
            continue
        with _open_text(path) as handle:
            for row in csv.DictReader(handle):
                prices[row["article_id"]].append(float(row["price"]))
    return {aid: Decimal(str(round(statistics.median(p) * PRICE_SCALE, 2))) for aid, p in prices.items()}


def link_images(data_dir: Path) -> Path:
    """Make ``MEDIA_ROOT/hm`` point at the source's images folder."""
    media = Path(settings.MEDIA_ROOT)
    media.mkdir(parents=True, exist_ok=True)
    link = media / MEDIA_LINK
    target = (data_dir / "images").resolve()
    if link.is_symlink() and Path(os.readlink(link)) != target:
        link.unlink()
    if not link.exists():
        link.symlink_to(target, target_is_directory=True)
    return link


def product_from_article(row: dict[str, str], price: Decimal | None) -> Product:
    image = row.get("image_path", "")
    image_name = f"{MEDIA_LINK}/{image.split('images/', 1)[1]}" if "images/" in image else ""
    return Product(
        id=row["article_id"],
        name=row["prod_name"][:200],
        description=row.get("detail_desc", ""),
        category=row["product_type_name"][:100],
        colour=row["colour_group_name"][:60],
        price=price or DEFAULT_PRICE,
        image=image_name,
        stock=10,
    )


def load_articles(
    data_dir: Path, *, limit: int | None = None, article_ids: Iterable[str] | None = None, progress: bool = False
) -> int:
    """Create or update products from ``articles.csv``; returns how many were written."""
    data_dir = Path(data_dir)
    rows = read_articles(data_dir)
    if article_ids is not None:
        wanted = set(article_ids)
        rows = [r for r in rows if r["article_id"] in wanted]
    if limit:
        rows = rows[:limit]
    link_images(data_dir)
    prices = median_prices(data_dir)
    products = [product_from_article(r, prices.get(r["article_id"])) for r in tqdm(rows, disable=not progress, desc="Articles")]
    fields = ["name", "description", "category", "colour", "price", "image"]
    for start in range(0, len(products), 1000):
        Product.objects.bulk_create(
            products[start : start + 1000], update_conflicts=True, unique_fields=["id"], update_fields=fields
        )
    return len(products)
