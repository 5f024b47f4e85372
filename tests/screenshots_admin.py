"""Screenshots of the recommender admin: ``docs/screenshots/admin-*.png``.

    python tests/screenshots_admin.py [--catalog ../shared/data/hm_fashion] [--limit 300] [--port 8765]

Not a test (no ``test_`` prefix, pytest never collects it). How it works, chosen as the simplest
robust way to get realistic pages:

1. It uses the demo shop (``shopdemo.settings``) with its own data folder
   (``SHOPDEMO_DATA_DIR=var/admin-screenshots``: embedded Postgres, media, models), so a
   developer's demo database is never touched. Delete that folder to start over.
2. Loads the first ``--limit`` H&M articles, trains the catalog CLIP twice for real
   (``recommender_train_encoder --image-size 64 --activate``: a retired and an active version,
   both with held-out metrics and training curves) and embeds the catalog with it (eager Celery).
   Re-running skips what exists.
3. Adds demonstration data the admin displays: 30 days of slot statistics and a search log drawn
   from a seeded random generator, a few merchandising rules, the periodic tasks
   (``recommender_setup_beat``) and the ``admin`` / ``admin`` superuser (local use only).
4. Serves it with ``manage.py runserver --noreload`` and photographs the pages with Playwright
   driving Debian's chromium: ``apt-get install -y chromium`` and ``pip install playwright``
   (no ``playwright install``: the system browser is used).

The catalog data is read in place and never copied into the project; the screenshots show no
machine paths (model folders are stored relative to MODEL_DIR).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "var" / "admin-screenshots"
OUT_DIR = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
USER, PASSWORD = "admin", "admin"
VIEWPORT = {"width": 1400, "height": 900}
# Long lists: the first screenful says it all (a full page of 100 rows is unreadable).
VIEWPORT_ONLY = {"vectors"}


def _environment() -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shopdemo.settings", "SHOPDEMO_DATA_DIR": str(DATA_DIR)}
    env.pop("DATABASE_URL", None)  # always the private embedded server
    env.pop("CELERY_BROKER_URL", None)  # eager tasks: everything finishes before the pictures
    env["DJANGO_DEBUG"] = "1"  # runserver serves the static files
    return env


def prepare(catalog: Path, limit: int) -> None:
    """Load, train, embed and seed (each step skipped when already done)."""
    os.environ.update(_environment())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from recommender.models import ModelVersion
    from shopdemo.catalog.models import Product

    call_command("migrate", verbosity=0)
    if Product.objects.count() < limit:
        call_command("shopdemo_load", catalog=catalog, limit=limit, verbosity=0)
    trained = ModelVersion.objects.filter(kind=ModelVersion.Kind.ENCODER).count()
    for epochs, name in ((1, "catalog-clip, first try"), (3, "catalog-clip, 3 epochs"))[trained:]:
        print(f"training {name!r} on {limit} products…", flush=True)
        call_command(
            "recommender_train_encoder",
            limit=limit,
            epochs=epochs,
            image_size=64,
            batch_size=64,
            lr=2e-3,
            name=name,
            activate=True,
            device="cpu",
            verbosity=0,
        )
    seed_demo_data()
    call_command("recommender_setup_beat", verbosity=0)


def seed_demo_data() -> None:
    """Slot statistics, a search log and merchandising rules, reproducible (seeded)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from recommender.models import MerchandisingRule, RecommenderSettings, SearchQuery, SlotStat
    from shopdemo.catalog.models import Product

    User = get_user_model()
    if not User.objects.filter(username=USER).exists():
        User.objects.create_superuser(USER, "admin@example.com", PASSWORD)
    RecommenderSettings.get()
    rng = random.Random(7)
    today = timezone.localdate()
    if not SlotStat.objects.exists():
        # (slot, strategy, impressions per day, click-through rate, conversions per click)
        slots = [
            ("home", "for_you", 1800, 0.046, 0.11),
            ("home", "trending", 900, 0.031, 0.08),
            ("product", "similar", 2600, 0.062, 0.09),
            ("cart", "bought_together", 700, 0.054, 0.17),
        ]
        rows = []
        for days_ago in range(89, -1, -1):
            weekend = (today - timedelta(days=days_ago)).weekday() >= 5
            for slot, strategy, base, ctr, conv in slots:
                impressions = int(base * (1.3 if weekend else 1.0) * rng.uniform(0.8, 1.2))
                clicks = int(impressions * ctr * rng.uniform(0.75, 1.25) * (1 + 0.004 * (89 - days_ago) / 10))
                conversions = int(clicks * conv * rng.uniform(0.7, 1.3))
                rows.append(
                    SlotStat(
                        day=today - timedelta(days=days_ago),
                        slot=slot,
                        strategy=strategy,
                        impressions=impressions,
                        clicks=clicks,
                        conversions=conversions,
                    )
                )
        SlotStat.objects.bulk_create(rows)
    if not SearchQuery.objects.exists():
        found = [
            "black dress",
            "denim jacket",
            "white sneakers",
            "linen shirt",
            "summer dress",
            "hoodie",
            "wool coat",
            "swimsuit",
            "striped top",
            "chinos",
        ]
        missing = ["wellies", "ski goggles", "tuxedo", "rain poncho kids"]
        now = timezone.now()
        queries = []
        for n in range(600):
            zero = rng.random() < 0.12
            text = rng.choice(missing) if zero else rng.choices(found, weights=range(len(found), 0, -1))[0]
            queries.append(
                SearchQuery(
                    query=text,
                    normalized=text,
                    session_hash=f"s{rng.randrange(220)}",
                    result_count=0 if zero else rng.randrange(4, 60),
                    clicked=not zero and rng.random() < 0.42,
                    purchased=not zero and rng.random() < 0.07,
                    created_at=now - timedelta(minutes=rng.randrange(60 * 24 * 30)),
                )
            )
        SearchQuery.objects.bulk_create(queries)
    if not MerchandisingRule.objects.exists():
        pinned = Product.objects.order_by("id").first()
        now = timezone.now()
        MerchandisingRule.objects.create(
            name=f"Pin {pinned.name} on the home page",
            action="pin",
            target="product",
            product_key=pinned.pk,
            slot="home",
        )
        MerchandisingRule.objects.create(
            name="Bury socks everywhere", action="bury", target="category", category="Socks", strength=0.6
        )
        MerchandisingRule.objects.create(
            name="Boost affordable basics",
            action="boost",
            target="price_range",
            min_price=5,
            max_price=20,
            strength=0.3,
            starts_at=now - timedelta(days=3),
            ends_at=now + timedelta(days=11),
        )
        MerchandisingRule.objects.create(
            name="Spring sale (ended)",
            action="boost",
            target="category",
            category="Dress",
            starts_at=now - timedelta(days=60),
            ends_at=now - timedelta(days=30),
        )
        MerchandisingRule.objects.create(
            name="Hide discontinued trousers",
            action="exclude",
            target="category",
            category="Trousers",
            slot="product",
            enabled=False,
        )


def object_ids() -> dict[str, int]:
    """Which detail pages to photograph: the active version and a plain, fully embedded row."""
    from recommender.models import ModelVersion, ProductVector

    active = ModelVersion.objects.get(kind=ModelVersion.Kind.ENCODER, state=ModelVersion.State.ACTIVE)
    row = ProductVector.objects.filter(version=active, status="ok", error="", image_embedding__isnull=False).first()
    return {"version": active.pk, "vector": row.pk}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"runserver did not start on port {port}")


def shoot(base: str, ids: dict[str, int]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    def rule_error(page) -> None:  # model.clean() surfaced in the form
        page.fill("#id_name", "Boost dresses")
        page.select_option("#id_action", "boost")
        page.select_option("#id_target", "category")
        page.click("input[name=_save]")
        page.wait_for_load_state("networkidle")

    shots = [
        ("index", "/admin/recommender/", None),
        ("settings", "/admin/recommender/recommendersettings/", None),
        ("rules", "/admin/recommender/merchandisingrule/", None),
        ("rule-validation", "/admin/recommender/merchandisingrule/add/", rule_error),
        ("vectors", f"/admin/recommender/productvector/?version__id__exact={ids['version']}", None),
        ("vector-detail", f"/admin/recommender/productvector/{ids['vector']}/change/", None),
        ("progress", "/admin/recommender/productvector/progress/", None),
        ("versions", "/admin/recommender/modelversion/", None),
        ("version-detail", f"/admin/recommender/modelversion/{ids['version']}/change/", None),
        ("train", "/admin/recommender/modelversion/train/", None),
        ("analytics", "/admin/recommender/slotstat/analytics/?days=30", None),
        ("periodic-tasks", "/admin/django_celery_beat/periodictask/", None),
    ]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        # The admin remembers a collapsed navigation sidebar in localStorage: more room for the pages.
        page.add_init_script("window.localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        page.goto(base + "/admin/login/?next=/admin/")
        page.fill("#id_username", USER)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state("networkidle")
        for name, path, action in shots:
            response = page.goto(base + path)
            if response is None or response.status != 200:
                raise RuntimeError(f"{path} answered {response and response.status}")
            page.wait_for_load_state("networkidle")
            if action:
                action(page)
            target = OUT_DIR / f"admin-{name}.png"
            page.screenshot(path=str(target), full_page=name not in VIEWPORT_ONLY)
            written.append(target)
            print(f"wrote {target.relative_to(ROOT)}", flush=True)
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, default=ROOT.parent / "shared" / "data" / "hm_fashion")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--port", type=int, default=0, help="runserver port (default: a free one)")
    args = parser.parse_args()
    if not (args.catalog / "articles.csv").exists():
        sys.exit(f"No H&M catalog at {args.catalog} (give --catalog).")

    prepare(args.catalog, args.limit)
    ids = object_ids()
    port = args.port or _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=_environment()
    )
    try:
        _wait_for(port)
        shoot(f"http://127.0.0.1:{port}", ids)
    finally:
        server.terminate()
        server.wait(timeout=30)
        from recommender.embedded import stop_embedded

        # The terminated runserver cannot release its handle on the private server: stop it here.
        stop_embedded(DATA_DIR / "pgdata", force=True)


if __name__ == "__main__":
    main()
