"""Catalog CLIP image embedding end to end on CPU, JPEG decode included: full decode vs draft decode.

Usage (from the repository root)::

    python bench/embedding_e2e.py                      # H&M JPEGs from ../shared/data when present
    python bench/embedding_e2e.py --images 256 --repeats 5

What the embedding worker does per product image: ``images.load_image`` (decode, EXIF, RGB) and
``encode_images`` (pad to square, resize, model). Two paths, alternating in the same run so both
see the same machine load: ``full`` (today: the whole JPEG decoded) and ``draft``
(``IMAGE_DRAFT_DECODE``: decoded at the smallest JPEG scale keeping 4x the model's input). The
machine is shared, so besides wall-clock images/s the table gives images per CPU-second of this
process times the thread count (what the run would reach with its cores to itself), and the
load average. Writes bench/results/embedding_throughput_e2e.{json,md}; ``--profile`` adds the
cProfile top of each path to bench/results/embedding_profile.txt.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

from portable import portable  # bench/ is on sys.path when a bench runs as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
HM_IMAGES = ROOT.parent / "shared" / "data" / "hm_fashion" / "images"


def main() -> int:
    args = _parse_args()
    import numpy as np
    import torch

    from recommender.encoders.open_clip_encoder import OpenClipEncoder
    from recommender.images import MAX_WORKING_SIDE, load_image

    torch.set_num_threads(args.threads)
    blobs, source = _jpegs(args.images)
    encoder = OpenClipEncoder("catalog-clip-minilm-rn18", None, device="cpu", batch_size=args.batch_size)
    draft_side = 4 * encoder.image_side

    def run(mode: str) -> np.ndarray:
        side = draft_side if mode == "draft" else None
        images = [load_image(blob, max_side=MAX_WORKING_SIDE, draft_side=side) for blob in blobs]
        return encoder.encode_images(images)

    modes = ("full", "draft")
    vectors = {mode: run(mode) for mode in modes}  # warm-up, and the vectors compared below
    cosines = np.sum(vectors["full"] * vectors["draft"], axis=1)
    wall: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    loads = []
    for _ in range(args.repeats):
        for mode in modes:
            started, cpu_started = time.perf_counter(), time.process_time()
            run(mode)
            wall[mode].append(time.perf_counter() - started)
            cpu[mode].append(time.process_time() - cpu_started)
            loads.append(os.getloadavg()[0])
    rows = []
    for mode in modes:
        rows.append(
            {
                "path": mode,
                "images_per_s_wall_best": round(len(blobs) / min(wall[mode]), 1),
                "images_per_s_wall_median": round(len(blobs) / float(np.median(wall[mode])), 1),
                # CPU seconds over threads: the wall time this work needs on idle cores.
                "images_per_s_cpu_estimate": round(len(blobs) * args.threads / float(np.median(cpu[mode])), 1),
            }
        )
    report = {
        "what": __doc__.split("\n\n")[0],
        "images": len(blobs),
        "source": source,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "repeats": args.repeats,
        "model": "catalog-clip-minilm-rn18 (random weights: same compute), 64 px",
        "draft_vs_full_image_vector_cosine": {"min": float(cosines.min()), "mean": float(cosines.mean())},
        "load_average_1min": [round(min(loads), 2), round(max(loads), 2)],
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
        "results": rows,
    }
    if args.ceiling:
        report["model_alone"] = model_ceiling(encoder, [load_image(b, max_side=MAX_WORKING_SIDE) for b in blobs])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "embedding_throughput_e2e.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "embedding_throughput_e2e.md").write_text(_markdown(report))
    print(json.dumps(report, indent=2))
    if args.profile:
        lines = []
        for mode in modes:
            profile = cProfile.Profile()
            profile.enable()
            run(mode)
            profile.disable()
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
            lines += [f"## {mode} decode (load {os.getloadavg()[0]:.1f})", out.getvalue()]
        (RESULTS / "embedding_profile.txt").write_text(portable("\n".join(lines)))
    return 0


def model_ceiling(encoder, images: list) -> list[dict]:
    """Images/s of the image tower alone on decoded, resized pixels (batch 64): torch as served,
    and ONNX Runtime fp32 and int8 (static, per-channel, calibrated on the other images), with
    each one's cosine to torch's vectors. What no decoding pipeline can beat on this machine."""
    import tempfile
    from functools import partial

    import numpy as np
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    encoder._ensure_eval()
    pixels = encoder.pixels.normalize(torch.stack([encoder.pixels(image) for image in images]))
    batch = pixels[:64].contiguous()
    with torch.inference_mode():
        reference = encoder.model.encode_image(batch.contiguous(memory_format=torch.channels_last)).numpy()

    def rate(call) -> float:
        call()
        best = min(_timed(call) for _ in range(5))
        return round(len(batch) / best, 1)

    def cosine(out: np.ndarray) -> float:
        norms = np.linalg.norm(out, axis=1) * np.linalg.norm(reference, axis=1)
        return round(float(((out * reference).sum(1) / norms).min()), 4)

    with torch.inference_mode():
        rows = [
            {
                "runtime": "torch (as served: channels_last, inference mode)",
                "images_per_s": rate(
                    lambda: encoder.model.encode_image(batch.contiguous(memory_format=torch.channels_last))
                ),
                "min_cosine_to_torch": 1.0,
            }
        ]
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = f"{tmp}/visual.onnx", f"{tmp}/visual_int8.onnx"
        torch.onnx.export(
            encoder.model.visual,
            (batch,),
            fp32,
            input_names=["pixels"],
            output_names=["features"],
            dynamic_axes={"pixels": {0: "n"}, "features": {0: "n"}},
            opset_version=17,
            dynamo=False,
        )

        class Calibration(CalibrationDataReader):
            def __init__(self) -> None:
                self.batches = iter([{"pixels": pixels[i : i + 16].numpy()} for i in range(64, len(pixels), 16)])

            def get_next(self):
                return next(self.batches, None)

        quant_pre_process(fp32, f"{tmp}/visual_pre.onnx")  # shape inference and fusions first, as ORT advises
        quantize_static(
            f"{tmp}/visual_pre.onnx",
            int8,
            Calibration(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
        )
        feed = {"pixels": batch.numpy()}
        for name, path in (("ONNX Runtime fp32", fp32), ("ONNX Runtime int8 (static QDQ, per channel)", int8)):
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            rows.append(
                {
                    "runtime": name,
                    "images_per_s": rate(partial(session.run, None, feed)),
                    "min_cosine_to_torch": cosine(session.run(None, feed)[0]),
                }
            )
    return rows


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _jpegs(n: int) -> tuple[list[bytes], str]:
    """``n`` product JPEGs: H&M's 360x540 photos when the shared data is there, else synthetic ones."""
    paths = sorted(HM_IMAGES.glob("*/*.jpg"))[:n] if HM_IMAGES.is_dir() else []
    if len(paths) == n:
        return [path.read_bytes() for path in paths], "H&M product photos, 360x540 JPEG"
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (54, 36, 3), dtype=np.uint8)
    blobs = []
    for i in range(n):
        buffer = io.BytesIO()
        Image.fromarray(np.roll(base, i, axis=0)).resize((360, 540), Image.Resampling.BILINEAR).save(
            buffer, "JPEG", quality=90
        )
        blobs.append(buffer.getvalue())
    return blobs, "synthetic 360x540 JPEG"


def _markdown(report: dict) -> str:
    low, high = report["load_average_1min"]
    lines = [
        "# Image embedding end to end (decode included), CPU",
        "",
        (
            f"Generated by `bench/embedding_e2e.py`. {report['images']} {report['source']}, {report['model']}, "
            f"batch {report['batch_size']}, {report['threads']} torch threads; paths alternate in the same run, "
            f"{report['repeats']} runs each. Shared 2-core machine, 1-minute load average {low}-{high} "
            f"({report['measured_at']} UTC): under load, wall-clock rates are depressed by other jobs; the CPU "
            "estimate is images per CPU-second of this process times the threads."
        ),
        "",
        "| path | images/s wall (best) | images/s wall (median) | images/s CPU estimate |",
        "|---|---:|---:|---:|",
    ]
    for row in report["results"]:
        lines.append(
            f"| {row['path']} | {row['images_per_s_wall_best']} | {row['images_per_s_wall_median']} | "
            f"{row['images_per_s_cpu_estimate']} |"
        )
    cos = report["draft_vs_full_image_vector_cosine"]
    lines += [
        "",
        (
            f"Image vectors, draft vs full decode: cosine min {cos['min']:.4f}, mean {cos['mean']:.4f} (random "
            "weights; the held-out R@10 of a trained model is what decides `IMAGE_DRAFT_DECODE`'s default)."
        ),
        "",
    ]
    if report.get("model_alone"):
        lines += [
            "## The image tower alone (`--ceiling`)",
            "",
            "Decoded, resized pixels, batch 64, same threads: the rate no decoding pipeline can beat here.",
            "",
            "| runtime | images/s | min cosine to torch |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {row['runtime']} | {row['images_per_s']} | {row['min_cosine_to_torch']} |"
            for row in report["model_alone"]
        ]
        lines.append("")
    return "\n".join(lines)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="write the cProfile top of each path")
    parser.add_argument(
        "--ceiling", action="store_true", help="also time the image tower alone (torch, ONNX fp32/int8)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())
