"""A small catalog the demo builds by itself, so a fresh clone runs with no data at all.

Products are garments drawn with Pillow (a silhouette per type, in a colour and a pattern) with
texts composed from the same attributes, so images and texts agree and a CLIP model can learn
from them. Shoppers have consistent tastes (a few favourite colours and types), and their
simulated views and purchases follow those tastes, so personalisation has something to find.
Everything is derived from a seed: the same catalog on every machine.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw
from tqdm import tqdm

from shopdemo.catalog.models import Product

COLOURS = {
    "black": (25, 25, 28),
    "white": (238, 238, 232),
    "red": (190, 30, 45),
    "navy": (30, 40, 90),
    "light blue": (150, 190, 230),
    "green": (40, 120, 60),
    "yellow": (235, 200, 60),
    "pink": (235, 150, 180),
    "beige": (215, 195, 160),
    "grey": (140, 140, 145),
    "brown": (110, 70, 40),
    "orange": (230, 120, 40),
}
TYPES = {
    "Dress": ("dress", 39),
    "T-shirt": ("top", 12),
    "Sweater": ("longtop", 35),
    "Trousers": ("trousers", 40),
    "Skirt": ("skirt", 25),
    "Coat": ("coat", 89),
    "Shorts": ("shorts", 20),
    "Shirt": ("longtop", 30),
    "Sneakers": ("shoe", 55),
    "Bag": ("bag", 45),
    "Cap": ("cap", 15),
    "Scarf": ("scarf", 18),
}
PATTERNS = ["solid", "solid", "solid", "striped", "dotted", "checked"]
MATERIALS = {
    "Dress": ["jersey", "linen", "chiffon"],
    "T-shirt": ["cotton jersey"],
    "Sweater": ["wool", "cotton knit"],
    "Trousers": ["denim", "twill", "linen"],
    "Skirt": ["denim", "pleated chiffon", "cotton"],
    "Coat": ["wool blend", "padded nylon"],
    "Shorts": ["denim", "cotton twill"],
    "Shirt": ["poplin", "linen"],
    "Sneakers": ["canvas", "leather"],
    "Bag": ["leather", "canvas"],
    "Cap": ["cotton twill"],
    "Scarf": ["wool", "modal"],
}
STYLES = {
    "Dress": ["Strappy", "Wrap", "Midi", "Shirt"],
    "T-shirt": ["Basic", "Oversized", "Boxy"],
    "Sweater": ["Chunky", "Fine-knit", "Turtleneck"],
    "Trousers": ["Slim", "Wide", "Cargo"],
    "Skirt": ["Mini", "Midi", "Pleated"],
    "Coat": ["Long", "Puffer", "Trench"],
    "Shorts": ["Denim", "Chino"],
    "Shirt": ["Oxford", "Resort"],
    "Sneakers": ["Low-top", "High-top"],
    "Bag": ["Tote", "Crossbody"],
    "Cap": ["Baseball"],
    "Scarf": ["Knitted", "Silky"],
}
IMAGE_SIZE = (180, 270)  # the H&M images' 2:3 portrait shape
ID_PREFIX = "G"
DEMO_SHOPPERS = 6


@dataclass(frozen=True)
class GeneratedProduct:
    id: str
    type: str
    colour: str
    pattern: str
    material: str
    style: str
    price: Decimal


def silhouette(kind: str, w: int, h: int) -> list[tuple[int, int]]:
    """A rough outline of a garment kind on a w x h canvas."""
    cx = w // 2
    shapes = {
        "dress": [(cx - 25, 30), (cx + 25, 30), (cx + 35, 90), (cx + 70, 240), (cx - 70, 240), (cx - 35, 90)],
        "top": [
            (cx - 40, 40),
            (cx - 75, 80),
            (cx - 60, 105),
            (cx - 45, 90),
            (cx - 45, 200),
            (cx + 45, 200),
            (cx + 45, 90),
            (cx + 60, 105),
            (cx + 75, 80),
            (cx + 40, 40),
        ],
        "longtop": [
            (cx - 40, 40),
            (cx - 70, 60),
            (cx - 85, 200),
            (cx - 65, 203),
            (cx - 47, 100),
            (cx - 45, 205),
            (cx + 45, 205),
            (cx + 47, 100),
            (cx + 65, 203),
            (cx + 85, 200),
            (cx + 70, 60),
            (cx + 40, 40),
        ],
        "trousers": [
            (cx - 50, 30),
            (cx + 50, 30),
            (cx + 60, 245),
            (cx + 12, 245),
            (cx, 110),
            (cx - 12, 245),
            (cx - 60, 245),
        ],
        "skirt": [(cx - 40, 70), (cx + 40, 70), (cx + 75, 200), (cx - 75, 200)],
        "coat": [
            (cx - 40, 25),
            (cx - 80, 55),
            (cx - 88, 215),
            (cx - 66, 218),
            (cx - 55, 110),
            (cx - 55, 245),
            (cx + 55, 245),
            (cx + 55, 110),
            (cx + 66, 218),
            (cx + 88, 215),
            (cx + 80, 55),
            (cx + 40, 25),
        ],
        "shorts": [
            (cx - 55, 70),
            (cx + 55, 70),
            (cx + 65, 170),
            (cx + 10, 170),
            (cx, 120),
            (cx - 10, 170),
            (cx - 65, 170),
        ],
        "shoe": [
            (cx - 70, 170),
            (cx - 60, 130),
            (cx - 10, 125),
            (cx + 30, 150),
            (cx + 75, 160),
            (cx + 75, 185),
            (cx - 70, 185),
        ],
        "bag": [(cx - 60, 110), (cx + 60, 110), (cx + 70, 220), (cx - 70, 220)],
        "cap": [
            (cx - 55, 150),
            (cx - 45, 110),
            (cx, 95),
            (cx + 45, 110),
            (cx + 55, 150),
            (cx + 85, 160),
            (cx - 55, 160),
        ],
        "scarf": [(cx - 20, 30), (cx + 20, 30), (cx + 30, 240), (cx - 10, 240)],
    }
    return shapes[kind]


def draw_product(p: GeneratedProduct) -> bytes:
    """A JPEG of the product: its silhouette in its colour and pattern on a white studio background."""
    w, h = IMAGE_SIZE
    kind = TYPES[p.type][0]
    colour = COLOURS[p.colour]
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).polygon(silhouette(kind, w, h), fill=255)
    fabric = Image.new("RGB", (w, h), colour)
    draw = ImageDraw.Draw(fabric)
    accent = tuple(255 - c if sum(colour) < 380 else max(c - 110, 0) for c in colour)
    if p.pattern == "striped":
        for y in range(0, h, 14):
            draw.rectangle([0, y, w, y + 5], fill=accent)
    elif p.pattern == "dotted":
        for y in range(6, h, 16):
            for x in range(6 + (y // 16 % 2) * 8, w, 16):
                draw.ellipse([x, y, x + 5, y + 5], fill=accent)
    elif p.pattern == "checked":
        for y in range(0, h, 24):
            for x in range(0, w, 24):
                if (x // 24 + y // 24) % 2:
                    draw.rectangle([x, y, x + 23, y + 23], fill=accent)
    canvas = Image.new("RGB", (w, h), (250, 250, 250))
    canvas.paste(fabric, (0, 0), mask)
    ImageDraw.Draw(canvas).polygon(silhouette(kind, w, h), outline=(60, 60, 60))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def describe(p: GeneratedProduct) -> tuple[str, str]:
    """(name, description) composed from the attributes."""
    pattern = "" if p.pattern == "solid" else f"{p.pattern} "
    name = f"{p.style} {p.type.lower()}" if p.type not in ("T-shirt",) else f"{p.style} T-shirt"
    description = f"{p.style} {pattern}{p.type.lower()} in {p.colour} {p.material}."
    return name, description


def catalog_specs(n: int, seed: int = 7) -> list[GeneratedProduct]:
    rng = random.Random(seed)
    types, colours = list(TYPES), list(COLOURS)
    specs = []
    for i in range(n):
        type_ = types[i % len(types)]
        price = Decimal(TYPES[type_][1]) + Decimal(rng.choice([0, 5, 10, -3])) - Decimal("0.01")
        specs.append(
            GeneratedProduct(
                id=f"{ID_PREFIX}{i + 1:05d}",
                type=type_,
                colour=rng.choice(colours),
                pattern=rng.choice(PATTERNS),
                material=rng.choice(MATERIALS[type_]),
                style=rng.choice(STYLES[type_]),
                price=price,
            )
        )
    return specs


def build_catalog(n: int = 240, *, seed: int = 7, progress: bool = False) -> list[Product]:
    """Create (or update) the generated products with their images; idempotent."""
    products = []
    for spec in tqdm(catalog_specs(n, seed), disable=not progress, desc="Generated products"):
        name, description = describe(spec)
        image_name = f"generated/{spec.id}.jpg"
        if not default_storage.exists(image_name):
            default_storage.save(image_name, ContentFile(draw_product(spec)))
        product, _ = Product.objects.update_or_create(
            id=spec.id,
            defaults={
                "name": name,
                "description": description,
                "category": spec.type,
                "colour": spec.colour,
                "price": spec.price,
                "stock": 20,
                "image": image_name,
            },
        )
        products.append(product)
    return products


def simulate_shoppers(products: list[Product], *, seed: int = 11, days: int = 30, progress: bool = False) -> int:
    """Demo users (demo1…demoN, password "demo") with consistent tastes, and their history.

    Idempotent: a shopper who already has events is left alone. Returns events created.
    """
    from recommender.events import record_event

    rng = random.Random(seed)
    User = get_user_model()
    colours, types = list(COLOURS), list(TYPES)
    now = timezone.now()
    created = 0
    for i in range(1, DEMO_SHOPPERS + 1):
        user, new = User.objects.get_or_create(username=f"demo{i}", defaults={"first_name": f"Demo shopper {i}"})
        if new:
            user.set_password("demo")
            user.save()
        if user.recommender_events.exists():
            continue
        likes = set(rng.sample(colours, 2)) | set(rng.sample(types, 3))
        liked = [p for p in products if p.colour in likes and p.category in likes] or [
            p for p in products if p.colour in likes or p.category in likes
        ]
        with transaction.atomic():
            for _ in tqdm(range(25), disable=not progress, desc=f"demo{i}"):
                product = rng.choice(liked if rng.random() < 0.85 else products)
                when = now - timedelta(days=rng.uniform(0, days))
                kind = rng.choices(["view", "add_to_cart", "purchase"], weights=[6, 2, 1])[0]
                record_event(kind, user=user, product_key=product.pk, created_at=when, update_profile=False)
                created += 1
    return created


def simulate_crowd(products: list[Product], *, sessions: int = 120, seed: int = 13, days: int = 14) -> int:
    """Anonymous shoppers browsing and buying outfits (a top with a bottom, shoes with a bag…),
    so trending, also-viewed and bought-together have real co-occurrence to find. Idempotent."""
    from recommender.events import record_event
    from recommender.models import Event

    if Event.objects.filter(session_key__startswith="crowd-").exists():
        return 0
    rng = random.Random(seed)
    by_type: dict[str, list[Product]] = {}
    for p in products:
        by_type.setdefault(p.category, []).append(p)
    outfits = [
        ("Dress", "Sneakers"),
        ("T-shirt", "Shorts"),
        ("Shirt", "Trousers"),
        ("Sweater", "Skirt"),
        ("Coat", "Scarf"),
        ("T-shirt", "Cap"),
        ("Dress", "Bag"),
    ]
    # A few best sellers per outfit, so pairs repeat across baskets.
    favourites = {t: rng.sample(items, min(3, len(items))) for t, items in by_type.items()}
    now = timezone.now()
    created = 0
    with transaction.atomic():
        for i in range(sessions):
            session = f"crowd-{i:04d}"
            when = now - timedelta(days=rng.uniform(0, days))
            first, second = rng.choice(outfits)
            basket = [rng.choice(favourites[first]), rng.choice(favourites[second])]
            for product in basket + rng.sample(products, 2):
                record_event("view", session_key=session, product_key=product.pk, created_at=when, update_profile=False)
                created += 1
            if rng.random() < 0.6:
                for product in basket:
                    record_event(
                        "purchase",
                        session_key=session,
                        product_key=product.pk,
                        created_at=when + timedelta(minutes=5),
                        update_profile=False,
                    )
                    created += 1
    return created
