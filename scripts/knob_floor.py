"""How far can the content-size knob move Lite2? The judge's floor and the decoder's, on the held-out styles.

    python scripts/knob_floor.py [--model DIR] [--contents 8] [--styles 8] [--size 512] [--out FILE.md]

The knob (issue 19) asks the style distance to fall 20 % from k = 64 to the smallest k. This measures what
bounds it, judged as the evaluation judges (Lite2 Gram distance, filter-bank texture distance) on centre-cropped
squares of `--size` px:
- the style picture against itself shuffled (rolled by half its side) and mirrored: the judge's own floor for a
  picture with the style's statistics and another layout;
- the model (`--model`, default the bundled one) given the style picture as its content (k = 64): the
  decoder's floor, a style redrawn from its own full code and its own z_s;
- the same at k = 1, and a flat grey content at k = 1: what the mosaic fill alone draws (no photo left);
- the held-out photos in each style at k = 64 and k = 1: the knob itself.
About 4 minutes on 2 CPU cores.
"""

import argparse
from collections.abc import Callable
from pathlib import Path

import torch

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.data.images import load_image
from waestyle.evaluation.metrics import gram_style_distances, texture_distance
from waestyle.evaluation.runner import square_batch
from waestyle.features import load_feature_network
from waestyle.stylize.stylizer import Stylizer


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="a model folder (default: the bundled model)")
    parser.add_argument("--contents", type=int, default=8)
    parser.add_argument("--styles", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here (markdown)")
    args = parser.parse_args()
    contents = square_batch([load_image(p) for p in demo_contents()[: args.contents]], args.size)
    styles = square_batch([load_image(p) for p in demo_styles()[: args.styles]], args.size)
    judge, stylizer = load_feature_network("efficientnet-lite2"), Stylizer.load(args.model)
    grey = torch.full_like(contents[:1], 0.5)

    def per_style(make: Callable[[torch.Tensor], torch.Tensor]) -> tuple[float, float]:
        """Mean Lite2 and texture distance of `make(style)` (one or more images) to each style."""
        lite2, texture = [], []
        for style in styles:
            outputs = make(style[None])
            targets = style[None].expand_as(outputs)
            lite2 += gram_style_distances(judge, outputs, targets)
            texture += texture_distance(outputs, targets)
        return mean(lite2), mean(texture)

    half = args.size // 2
    rows = {
        "the style picture rolled by half its side": lambda s: torch.roll(s, (half, half), (-2, -1)),
        "the style picture mirrored": lambda s: s.flip(-1),
        "the model: the style picture as content, k = 64": lambda s: stylizer.transfer(s, s),
        "the model: the style picture as content, k = 1": lambda s: stylizer.transfer(s, s, content_dim=1),
        "the model: flat grey content, k = 1": lambda s: stylizer.transfer(grey, s, content_dim=1),
        "the model: the held-out photos, k = 64": lambda s: stylizer.transfer(contents, s),
        "the model: the held-out photos, k = 1": lambda s: stylizer.transfer(contents, s, content_dim=1),
    }
    lines = ["| what | Lite2 ↓ | texture dist ↓ |", "| --- | --- | --- |"]
    with torch.no_grad():
        for label, make in rows.items():
            lite2, texture = per_style(make)
            lines.append(f"| {label} | {lite2:.3f} | {texture:.3f} |")
            print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
