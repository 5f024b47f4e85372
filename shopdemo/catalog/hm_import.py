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
from datetime import UTC, date, datetime
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
        family=row.get("product_code", "")[:32],
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
    products = [
        product_from_article(r, prices.get(r["article_id"])) for r in tqdm(rows, disable=not progress, desc="Articles")
    ]
    fields = ["name", "description", "category", "colour", "family", "price", "image"]
    for start in range(0, len(products), 1000):
        Product.objects.bulk_create(
            products[start : start + 1000], update_conflicts=True, unique_fields=["id"], update_fields=fields
        )
    return len(products)


def read_purchases(data_dir: Path, article_ids: set[str], until: date | None = None) -> dict[tuple[str, str, str], int]:
    """(customer_id, article_id, day) -> units, from both transaction files without double counting.

    The 2-year sample overlaps the last week (SOURCE.md): rows of the sample dated on or after the
    last week's first day are dropped. Identical rows are several units of one purchase.
    """
    lastweek_start = "2020-09-16"
    units: dict[tuple[str, str, str], int] = defaultdict(int)
    for name in TRANSACTION_FILES:
        path = data_dir / name
        if not path.exists():
            continue
        with _open_text(path) as handle:
            for row in csv.DictReader(handle):
                day = row["t_dat"]
                if row["article_id"] not in article_ids:
                    continue
                if name == "transactions_history.csv" and day >= lastweek_start:
                    continue
                if until is not None and day >= until.isoformat():
                    continue
                units[(row["customer_id"], row["article_id"], day)] += 1
    return units


def load_purchases(
    data_dir: Path, *, until: date | None = None, max_customers: int | None = None, progress: bool = False
) -> tuple[int, int]:
    """Customers become users (username = customer_id) and their purchases purchase events
    with the original dates. Idempotent. Returns (users created, events created)."""
    from django.contrib.auth import get_user_model

    from recommender.models import Event

    article_ids = set(Product.objects.values_list("id", flat=True))
    units = read_purchases(Path(data_dir), article_ids, until)
    customers = sorted({c for c, _, _ in units})
    if max_customers:
        customers = customers[:max_customers]
        keep = set(customers)
        units = {k: v for k, v in units.items() if k[0] in keep}
    User = get_user_model()
    existing = set(User.objects.filter(username__in=customers).values_list("username", flat=True))
    new_users = [User(username=c, password="!") for c in customers if c not in existing]  # unusable password
    User.objects.bulk_create(new_users, batch_size=2000)
    user_ids = dict(User.objects.filter(username__in=customers).values_list("username", "id"))
    seen = set(
        Event.objects.filter(type="purchase", user_id__in=user_ids.values()).values_list(
            "user_id", "product_key", "created_at"
        )
    )
    events = []
    for (customer, article, day), quantity in tqdm(sorted(units.items()), disable=not progress, desc="Purchases"):
        when = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
        key = (user_ids[customer], article, when)
        if key in seen:
            continue
        events.append(
            Event(
                type="purchase",
                user_id=user_ids[customer],
                product_key=article,
                quantity=quantity,
                created_at=when,
                processed=False,
            )
        )
    Event.objects.bulk_create(events, batch_size=5000)
    return len(new_users), len(events)
