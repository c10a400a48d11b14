"""Spatial-model transfer latency and peak memory at large sizes, on this machine.

    python benchmarks/bench_spatial.py [--sizes 256 512 1024 2048] [--repeats 3] [--device cpu]

Each size runs in a fresh child process, so its peak resident memory (ru_maxrss) is that size's
own; "load only" is the same process doing everything but the transfer (torch, the frozen CNN and
the model). Latency is the whole `Stylizer.transfer` call on a PIL photo of that long side (4:3):
style encoding, content encoding, decoding, conversions. Weights are freshly initialised (speed does
not depend on what they learned); the architecture is the default spatial one at 128 px. Nothing
is asserted.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
from PIL import Image

from waestyle.core.config import ModelConfig
from waestyle.core.devices import resolve_device
from waestyle.features import load_feature_network
from waestyle.models.wae import WAEStyleModel
from waestyle.stylize.stylizer import Stylizer

CONFIG = ModelConfig(arch="spatial", image_size=128, content_dim=64, style_dim=64)


def measure(size: int, repeats: int, device_name: str) -> dict:
    """Run in the child: latency of `repeats` transfers at `size` (0: load only) and peak memory."""
    device = resolve_device(device_name)
    torch.manual_seed(0)
    stylizer = Stylizer(WAEStyleModel(CONFIG, load_feature_network(CONFIG.features)), device, max_side=max(size, 16))
    times = []
    if size:
        content = Image.new("RGB", (size, size * 3 // 4), "teal")
        style = Image.new("RGB", (512, 512), "orange")
        stylizer.transfer(content, style)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            out = stylizer.transfer(content, style)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        assert out.size == content.size
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    gpu_mib = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else 0.0
    return {
        "size": size,
        "seconds": statistics.median(times) if times else 0.0,
        "peak_mib": peak_mib,
        "gpu_mib": gpu_mib,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.repeats, args.device)))
        return
    print(f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()} arch=spatial")
    print(f"{'long side':>10} {'pixels':>10} {'transfer (s)':>13} {'peak RSS (MiB)':>15} {'GPU peak (MiB)':>15}")
    for size in [0, *args.sizes]:
        child = [
            sys.executable,
            __file__,
            "--child",
            str(size),
            "--repeats",
            str(args.repeats),
            "--device",
            args.device,
        ]
        row = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        label = "load only" if size == 0 else str(size)
        pixels = f"{size * (size * 3 // 4) / 1e6:.2f} M" if size else "-"
        print(f"{label:>10} {pixels:>10} {row['seconds']:>13.3f} {row['peak_mib']:>15.0f} {row['gpu_mib']:>15.0f}")


if __name__ == "__main__":
    main()
