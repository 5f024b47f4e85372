"""Screenshots of the experiments admin: ``docs/screenshots/admin-experiment*.png``.

    python tests/screenshots_experiments.py [--shoppers 1500]

Not a test (pytest never collects it). The demo shop's settings with their own data folder
(``var/experiment-screenshots``), a 200-product catalog with random vectors
(``bench/api_latency.build_data``), one experiment whose simulated shoppers go through the real
stack (``bench/experiment_simulator.py``: control CTR 20 %, "diverse" 24 %). For the per-day
charts the visits are then spread over the past 10 days (each shopper's exposure and events
moved together); the screenshot data only, never a test's. Served by ``runserver`` and
photographed with Playwright on Debian's chromium, like ``tests/screenshots_admin.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.screenshots_admin import (
    CHROMIUM,
    CHROMIUM_ARGS,
    OUT_DIR,
    PASSWORD,
    USER,
    VIEWPORT,
    _free_port,
    _wait_for,
)

DATA_DIR = ROOT / "var" / "experiment-screenshots"


def _environment() -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shopdemo.settings", "SHOPDEMO_DATA_DIR": str(DATA_DIR)}
    env.pop("DATABASE_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    env["DJANGO_DEBUG"] = "1"
    return env


def prepare(shoppers: int) -> int:
    os.environ.update(_environment())
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from bench.api_latency import build_data
    from bench.experiment_simulator import Truth, make_experiment, simulate
    from recommender.models import Event, Experiment, Exposure

    call_command("migrate", verbosity=0)
    done = Experiment.objects.filter(name="Home: more diverse picks", exposures__isnull=False).first()
    if done is not None:  # re-running only takes the pictures again
        return done.pk
    build_data(200, 500, 0)
    Experiment.objects.all().delete()
    experiment = make_experiment(
        "Home: more diverse picks",
        "home",
        {"control": {"strategy": "trending"}, "diverse": {"strategy": "trending", "diversity_lambda": 0.5}},
    )
    truth = {"control": Truth(0.20, 0.4, 0.5), "diverse": Truth(0.24, 0.4, 0.5)}
    simulate(experiment, truth, shoppers=shoppers, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    now = timezone.now()
    for exposure in Exposure.objects.filter(experiment=experiment):
        shift = timedelta(days=int(rng.integers(0, 10)))
        Exposure.objects.filter(pk=exposure.pk).update(created_at=exposure.created_at - shift)
        Event.objects.filter(session_key=exposure.session_key).update(created_at=now - shift)
    if not get_user_model().objects.filter(username=USER).exists():
        get_user_model().objects.create_superuser(USER, password=PASSWORD)
    return experiment.pk


def shoot(base: str, pk: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(300_000)  # the results page computes its statistics (slow on a busy box)
        page.add_init_script("window.localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        page.goto(base + "/admin/login/?next=/admin/")
        page.fill("#id_username", USER)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state("networkidle")
        for name, path in (
            ("experiment-results", f"/admin/recommender/experiment/{pk}/results/?baseline=0.2&lift=0.2"),
            ("experiments", "/admin/recommender/experiment/"),
            ("experiment-edit", f"/admin/recommender/experiment/{pk}/change/"),
        ):
            response = page.goto(base + path)
            if response is None or response.status != 200:
                raise RuntimeError(f"{path} answered {response and response.status}")
            page.wait_for_load_state("networkidle")
            target = OUT_DIR / f"admin-{name}.png"
            page.screenshot(path=str(target), full_page=True)
            print(f"wrote {target.relative_to(ROOT)}", flush=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shoppers", type=int, default=1500)
    args = parser.parse_args()
    pk = prepare(args.shoppers)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=_environment()
    )
    try:
        _wait_for(port)
        shoot(f"http://127.0.0.1:{port}", pk)
    finally:
        server.terminate()
        server.wait(timeout=30)
        from recommender.embedded import stop_embedded

        stop_embedded(DATA_DIR / "pgdata", force=True)


if __name__ == "__main__":
    main()
