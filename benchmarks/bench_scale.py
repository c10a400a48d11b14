"""Training throughput: 1 vs 2 processes (torchrun, DDP) and raw folders vs a pack, on this machine.

    python benchmarks/bench_scale.py [--steps 40] [--image-size 64] [--batch-size 32] [--device cpu]

Writes 600 photo crops of 300-512 px, JPEG, like CelebA's or ImageNet's files (scikit-image's samples,
no download) to a temporary folder and packs them,
then times `waestyle train` in each setting: images/s of the global batch over the steps after a
warm-up (from log.csv), all processes together. On CPU, one process uses every core's thread and
two processes one thread each, so both use the whole machine. Prints one table; nothing is asserted.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from waestyle.data.samples import photo_crops, write_images

WARMUP = 10  # steps before timing starts: allocator, first batches, worker start-up


def run(args: list[str], processes: int, threads: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    launcher = [sys.executable, "-m", "waestyle"]
    if processes > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                    "-m", "waestyle"]  # fmt: skip
    subprocess.run([*launcher, *args], env=env, check=True, capture_output=True, text=True)


def images_per_second(run_dir: Path, batch_size: int) -> float:
    with (run_dir / "log.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle)]
    first = next(r for r in rows if int(r["step"]) >= WARMUP)
    last = rows[-1]
    steps = int(last["step"]) - int(first["step"])
    return steps * batch_size / (float(last["elapsed_s"]) - float(first["elapsed_s"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32, help="global batch")
    parser.add_argument("--workers", type=int, default=0, help="data-loading workers per process")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_images(photo_crops(600, seed=0, min_side=300, max_side=512), tmp / "photos", "photo")
        pack = ["data", "pack", str(tmp / "photos"), "--out", str(tmp / "pack"), "--image-size", str(args.image_size)]
        subprocess.run([sys.executable, "-m", "waestyle", *pack], check=True, capture_output=True)
        print(f"device={args.device} torch={torch.__version__} cores={cores} image_size={args.image_size} "
              f"global_batch={args.batch_size} steps={args.steps} workers={args.workers}")  # fmt: skip
        print(f"{'processes':>9} {'threads each':>12} {'input':>6} {'images/s':>9}")
        for processes in args.processes:
            threads = max(1, cores // processes) if args.device == "cpu" else 1
            for source in ("folder", "pack"):
                run_dir = tmp / f"run-{processes}-{source}"
                data = tmp / ("photos" if source == "folder" else "pack")
                run(["train", "--data", str(data), "--out", str(run_dir), "--steps", str(args.steps),
                     "--image-size", str(args.image_size), "--batch-size", str(args.batch_size),
                     "--log-every", "1", "--checkpoint-every", str(args.steps), "--sample-every", str(args.steps),
                     "--workers", str(args.workers), "--device", args.device], processes, threads)  # fmt: skip
                rate = images_per_second(run_dir, args.batch_size)
                print(f"{processes:>9} {threads:>12} {source:>6} {rate:>9.1f}")


if __name__ == "__main__":
    main()
