"""What refinement costs at each photo size: seconds per transfer with `refine=N` beside the one-pass transfer.

    python benchmarks/bench_refine.py [--sizes 512 1024 2048] [--steps 20] [--repeats 3] [--model DIR]

A user's call, timed: a PIL content (a bundled photo resized to the size's long side) and a bundled style image
in, a PIL image out at the content's size. The search runs at a fixed working size (128 px), so its cost should
hardly grow with the photo; only the final decoding does, as the one-pass transfer's. Median of `--repeats`
calls after one warm-up, in the default backend and precision. Nothing is asserted.
"""

import argparse
from pathlib import Path

import torch
from bench_peer import median_seconds  # this folder is on sys.path when run as a script

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.data.images import load_image
from waestyle.stylize.stylizer import Stylizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    stylizer = Stylizer.load(args.model)
    photo, style = load_image(demo_contents()[0]), stylizer.style(load_image(demo_styles()[0]))
    print(f"backend {stylizer.backend}, {'bf16' if stylizer.bf16 else 'fp32'}, {torch.get_num_threads()} threads")
    print(f"| long side | one pass (s) | refine={args.steps} (s) | refinement's share (s) |")
    print("| --- | --- | --- | --- |")
    for size in args.sizes:
        scale = size / max(photo.size)
        content = photo.resize((round(photo.width * scale), round(photo.height * scale)))
        plain = median_seconds(lambda c=content: stylizer.transfer(c, style), args.repeats)
        refined = median_seconds(lambda c=content: stylizer.transfer(c, style, refine=args.steps), args.repeats)
        print(f"| {size} | {plain:.2f} | {refined:.2f} | {refined - plain:.2f} |", flush=True)


if __name__ == "__main__":
    main()
