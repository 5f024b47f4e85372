"""Images/s and texts/s of the catalog CLIP and ViT-B-32 on this machine; writes bench/results/embedding_throughput.*.

Usage (from the repository root)::

    python bench/embedding_throughput.py                 # device auto: CUDA when present, else CPU
    python bench/embedding_throughput.py --device cpu --batch-sizes 32 64

Both models use random weights (``pretrained=None``): the cost of a forward pass does not depend
on the weights, and nothing has to be downloaded. Images are synthetic 360x540 product-photo-sized
pictures, texts are synthetic product descriptions of H&M length (~190 characters, ~50 tokens).
"images/s" is end to end through ``encode_images`` (pad/resize/crop on PIL + model); "model
images/s" feeds already-preprocessed pixels. Each figure is the best of ``--repeats`` timed runs. Each run is stored per device, so running this on a
GPU box adds a section to the JSON and table instead of replacing the CPU numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
MODELS = (
    ("catalog CLIP (resnet18 64px + MiniLM-L6)", "catalog-clip-minilm-rn18"),
    ("ViT-B-32 (224px + CLIP text, 77 tokens)", "ViT-B-32"),
)
_WORDS = (
    "jersey",
    "cotton",
    "dress",
    "top",
    "black",
    "white",
    "straps",
    "v-neck",
    "skirt",
    "denim",
    "soft",
    "knitted",
    "sleeves",
    "collar",
    "buttons",
    "pockets",
    "waist",
    "lined",
    "viscose",
    "summer",
    "fitted",
)


def main() -> int:
    args = _parse_args()
    import numpy as np
    import torch
    from PIL import Image

    from recommender.encoders import build_encoder

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    device = (
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    on_gpu = device.startswith("cuda")
    n_images = args.images or (2048 if on_gpu else 96)
    n_texts = args.texts or (8192 if on_gpu else 384)
    # Smooth random images compress and resize like photos; pure noise would not be representative.
    base = rng.integers(0, 255, (54, 36, 3), dtype=np.uint8)
    images = [
        Image.fromarray(np.roll(base, i, axis=0)).resize((360, 540), Image.Resampling.BILINEAR) for i in range(n_images)
    ]
    texts = [_product_text(rng) for _ in range(n_texts)]

    rows: list[dict[str, Any]] = []
    for label, model_name in MODELS:
        if args.models and not any(wanted.lower() in model_name.lower() for wanted in args.models):
            continue
        for batch_size in args.batch_sizes:
            encoder = build_encoder(
                {
                    "MODEL": model_name,
                    "PRETRAINED": None,
                    "DEVICE": device,
                    "BATCH_SIZE": batch_size,
                    "PRECISION": args.precision,
                }
            )
            pixels = torch.stack([encoder.pixels(image) for image in images])
            encoder.encode_images(images[:batch_size])  # warm-up: allocator, oneDNN/cuDNN kernel choice
            encoder.encode_texts(texts[:batch_size])
            row = {
                "model": label,
                "open_clip_model": model_name,
                "batch_size": batch_size,
                "dimensions": encoder.dimensions,
                "images_per_s": _rate(encoder.encode_images, images, args.repeats),
                "model_images_per_s": _rate(encoder.encode_pixels, pixels, args.repeats),
                "texts_per_s": _rate(encoder.encode_texts, texts, args.repeats),
                "precision": str(encoder.autocast_dtype or "fp32").replace("torch.", ""),
            }
            row["load_average_1min"] = round(os.getloadavg()[0], 2)  # > cores: other jobs were competing
            rows.append(row)
            print(json.dumps(row), flush=True)
            del encoder, pixels
            if on_gpu:
                torch.cuda.empty_cache()

    machine = _machine(torch, device, args.threads)
    machine["repeats"] = args.repeats
    key = f"{'cuda' if on_gpu else 'cpu'}: {machine['gpu'] or machine['cpu']}"
    path = RESULTS / "embedding_throughput.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    runs = report.get("runs", {})
    # Rows measured now replace the same (model, batch) rows; others are kept, so one model can be re-run.
    fresh = {(row["open_clip_model"], row["batch_size"]) for row in rows}
    kept = [
        row for row in runs.get(key, {}).get("results", []) if (row["open_clip_model"], row["batch_size"]) not in fresh
    ]
    order = [name for _, name in MODELS]
    results = sorted(kept + rows, key=lambda row: (order.index(row["open_clip_model"]), row["batch_size"]))
    runs[key] = {
        "machine": machine,
        "images": n_images,
        "texts": n_texts,
        "results": results,
        "measured_at": time.strftime("%Y-%m-%d"),
    }
    report = {"what": __doc__.split("\n\n")[0], "notes": _NOTES, "runs": runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "embedding_throughput.md").write_text(_markdown(runs))
    print(f"wrote bench/results/embedding_throughput.json and .md ({key})", flush=True)
    return 0


_NOTES = (
    "Random weights (pretrained=None), same compute as trained ones. images/s = encode_images on "
    "360x540 PIL images incl. preprocessing; model images/s = preprocessed pixels only; texts/s = "
    "encode_texts on ~190-character product texts (MiniLM trims padding, CLIP's text tower always runs 77 tokens)."
)


def _rate(encode: Any, inputs: Any, repeats: int) -> float:
    """Items per second of ``encode(inputs)``, best of ``repeats`` (other load only ever slows a run down)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        encode(inputs)
        best = min(best, time.perf_counter() - started)
    return round(len(inputs) / best, 1)


def _product_text(rng: Any) -> str:
    words = rng.choice(_WORDS, size=int(rng.integers(22, 34)))
    return f"{words[0].title()} {words[1]}. " + " ".join(words[2:]) + "."


def _markdown(runs: dict[str, Any]) -> str:
    lines = ["# Embedding throughput", "", "Generated by `bench/embedding_throughput.py`. " + _NOTES, ""]
    for key, run in runs.items():
        machine = run["machine"]
        setup = (
            f"{machine['cores']} cores, {machine['torch_threads']} torch threads, torch {machine['torch']}, "
            f"open_clip {machine['open_clip']}; {run['images']} images, {run['texts']} texts, best of "
            f"{machine.get('repeats', 1)} runs, load average {machine.get('load_average')}, {run['measured_at']}."
        )
        lines += [
            f"## {key}",
            "",
            setup,
            "",
            "| model | dim | batch | precision | images/s | model images/s | texts/s | load |",
            "|---|---:|---:|---|---:|---:|---:|---:|",
        ]
        for row in run["results"]:
            lines.append(
                f"| {row['model']} | {row['dimensions']} | {row['batch_size']} | {row['precision']} | "
                f"{row['images_per_s']:.1f} | {row['model_images_per_s']:.1f} | {row['texts_per_s']:.1f} | "
                f"{row.get('load_average_1min', '')} |"
            )
        lines.append("")
    return "\n".join(lines)


def _machine(torch: Any, device: str, threads: int) -> dict[str, Any]:
    import open_clip

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": threads,
        "gpu": gpu,
        "device": device,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        # Other processes on the box slow CPU numbers down; a load above the core count means contention.
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help='"auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...')
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--models", nargs="+", default=None, help="only models whose name contains one of these")
    parser.add_argument("--images", type=int, default=None, help="images per measurement (default 96 CPU, 2048 GPU)")
    parser.add_argument("--texts", type=int, default=None, help="texts per measurement (default 384 CPU, 8192 GPU)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; the fastest counts")
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())
