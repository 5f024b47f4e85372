"""Post one photo to the real search-by-image API in a fresh process and report its cost as JSON.

    python -m tests.image_search_probe photo.png      # env: DJANGO_SETTINGS_MODULE, RECOMMENDER_TEST_*

Run by ``tests/test_image_abuse.py`` against the test database its module fixture filled. Peak
memory is only measurable per process, hence the subprocess. The process first
warms up (model loaded, one small search), then caps its address space so that a regression
fails with a MemoryError instead of taking gigabytes from a shared machine, then posts the photo.
Printed: status, the reply, wall and CPU seconds (CPU time does not depend on how busy a shared
machine is; a small photo's wall time is there for comparison), and the growth of the peak RSS over the request. The peak
is reset to the current RSS just before (Linux ``/proc/self/clear_refs``), so that what the
warm-up allocated and freed again cannot hide what the request allocates; it is read from VmHWM,
the process's own high-water mark (``ru_maxrss`` also keeps the peak of threads that exited).
"""

from __future__ import annotations

import io
import json
import resource
import sys
import time
from pathlib import Path

import django

# Headroom for the request under the address-space cap: 5x the RSS growth the tests allow.
ADDRESS_SPACE_HEADROOM = 1024 * 1024 * 1024
URL = "/api/recommender/search/image/"


def reset_peak_rss() -> None:
    """Make the high-water mark start again from the current RSS (Linux: "5" resets VmHWM)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_kb() -> int:
    """The process's peak resident set size since the last reset, in kB (VmHWM)."""
    return _status_kb("VmHWM")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def current_address_space() -> int:
    """Virtual memory size now, in bytes (Linux)."""
    return _status_kb("VmSize") * 1024


def small_photo() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def post(client, data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(URL, {"image": SimpleUploadedFile(name, data, content_type="image/png")})


def main(path: str) -> None:
    django.setup()
    from django.test import Client

    client = Client()
    for _ in range(2):  # the first search loads the model; the second settles lazy allocations
        started = time.perf_counter()
        warm = post(client, small_photo(), "warm.png")
        assert warm.status_code == 200, warm.content
    baseline = time.perf_counter() - started  # a 64x48 photo, on the same machine at the same time
    data = Path(path).read_bytes()
    limit = current_address_space() + ADDRESS_SPACE_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    reset_peak_rss()
    peak_before = peak_rss_kb()
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        response = post(client, data, Path(path).name)
        status, body = response.status_code, response.json()
    except MemoryError:
        status, body = None, "MemoryError under the address-space cap"
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    peak_after = peak_rss_kb()
    print(
        json.dumps(
            {
                "status": status,
                "body": body,
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "small_photo_seconds": round(baseline, 3),
                "peak_growth_mb": round((peak_after - peak_before) / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
