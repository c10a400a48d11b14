"""Quality and time of `--refine N` beside the one-pass transfer, Gatys and the peer, in one run.

    python scripts/refine_table.py [--steps 0 5 10 20 30 40 50] [--contents 8] [--styles 4] [--size 512]
                                   [--ablation 20] [--gatys-iterations 100] [--model RUN_DIR] [--once N]
                                   [--out docs/results/quality/refine]

The bundled model (or `--model`'s) on the held-out demo pairs (the first `--contents` contents x the first
`--styles` styles, centre-cropped squares of `--size` px), refined for each N; judged like the quality report
by what the search does not optimise: EfficientNet-Lite2's Gram distance and the filter bank's texture cut (the
search follows Lite0 and pixel colours), colour, content, grey SSIM, and seconds per image on this machine.
`--ablation N` adds N-step rows without the norm offsets (codes per layer only), without the per-layer codes
either (one shared code) and with the first release's settings (one shared code, 256-px working size, lr 0.1).
`--once N` adds rows that refine each style once, N steps, on a probe instead of each photo, then transfer every
photo with that refined style in one pass (as a video does): probes are the style picture itself, one
training-source photo (scikit-image's coffee), and three of them in turn (N/3 steps each). Their closeness to the
per-photo rows says how much of the search's answer belongs to the style rather than to the photo.
Writes OUT/README.md (the table) and OUT/metrics.json (every row). Pick N by the Lite2 and filter-bank columns.
"""

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.data.images import load_image, tensor_to_pil
from waestyle.evaluation.methods import GatysMethod, IdentityMethod, ModelMethod, PeerMethod, TransferOnly
from waestyle.evaluation.report import summarise
from waestyle.evaluation.runner import run_evaluation, square_batch
from waestyle.features import load_feature_network
from waestyle.stylize.refine import RefineSettings
from waestyle.stylize.stylizer import Stylizer

COLUMNS = (("style_distance", "Lite2 style dist ↓", "{:.3f}"), ("texture_distance_cut", "texture cut ↑", "{:.0%}"),
           ("colour_distance", "colour dist ↓", "{:.3f}"), ("content_distance", "content dist ↓", "{:.3f}"),
           ("grey_ssim", "grey SSIM ↑", "{:.3f}"), ("style_ssim", "SSIM to style ↓", "{:.3f}"),
           ("seconds_per_image", "s / image", "{:.2f}"))  # fmt: skip
PROBE_PHOTOS = ("coffee", "chelsea", "astronaut")  # scikit-image samples: a training source, not held out


@dataclass
class RefinedOnce(TransferOnly):
    """Each style refined once on `probes` (PIL images, `steps` split evenly among them, in turn; None: the
    style picture itself), then every content transferred in one pass with the refined style."""

    stylizer: Stylizer
    label: str
    steps: int
    probes: tuple | None = None
    content_dim = None

    @property
    def name(self) -> str:
        return f"refined once per style on {self.label}, {self.steps} steps"

    def transfer(self, contents: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        refined = self.stylizer.style(style)
        probes = self.probes or (tensor_to_pil(style[0]),)
        for probe in probes:
            refined = self.stylizer.refined_style(probe, refined, self.steps // len(probes))
        return self.stylizer.transfer(contents, refined)


def probe_photos(names: tuple[str, ...]) -> tuple[Image.Image, ...]:
    from skimage import data  # the test extra's scikit-image; only this option needs it

    return tuple(Image.fromarray(getattr(data, name)()) for name in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 5, 10, 20, 30, 40, 50])
    parser.add_argument("--contents", type=int, default=8)
    parser.add_argument("--styles", type=int, default=4)
    parser.add_argument("--ablation", type=int, default=20, help="steps of the ablation rows (0: none)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--gatys-iterations", type=int, default=100, help="0 leaves Gatys out")
    parser.add_argument("--model", type=Path, default=None, help="a trained model's folder (default: the bundled)")
    parser.add_argument("--out", type=Path, default=Path("docs/results/quality/refine"))
    parser.add_argument("--once", type=int, default=0, help="steps of the refine-once-per-style rows (0: none)")
    args = parser.parse_args()
    content_paths, style_paths = demo_contents()[: args.contents], demo_styles()[: args.styles]
    contents = square_batch([load_image(p) for p in content_paths], args.size)
    styles = square_batch([load_image(p) for p in style_paths], args.size)
    stylizer = Stylizer.load(args.model)
    name = "waestyle default" if args.model is None else f"waestyle {args.model.name}"
    stylizer.transfer(contents[:1, :, :64, :64], stylizer.style(styles[:1]), refine=1)  # loads the refiner: untimed
    methods: list = [IdentityMethod()] + [ModelMethod(stylizer, name, None, n) for n in args.steps]
    if args.ablation:
        codes = RefineSettings(steps=args.ablation, offsets=False)
        shared = RefineSettings(steps=args.ablation, per_layer=False, offsets=False)
        first = RefineSettings(steps=args.ablation, per_layer=False, offsets=False, side=256, lr=0.1)
        methods += [ModelMethod(stylizer, "codes per layer, no norm offsets", None, codes),
                    ModelMethod(stylizer, "one shared code", None, shared),
                    ModelMethod(stylizer, "one shared code, 256 px, lr 0.1", None, first)]  # fmt: skip
    if args.once:
        photos = probe_photos(PROBE_PHOTOS)
        three = f"three photos in turn ({', '.join(PROBE_PHOTOS)})"
        methods += [RefinedOnce(stylizer, "the style picture", args.once),
                    RefinedOnce(stylizer, f"one photo ({PROBE_PHOTOS[0]})", args.once, photos[:1]),
                    RefinedOnce(stylizer, three, args.once, photos)]  # fmt: skip
    if args.gatys_iterations:
        methods.append(GatysMethod(load_feature_network(stylizer.config.features), iterations=args.gatys_iterations))
    methods.append(PeerMethod())
    evaluation = run_evaluation(methods, contents, styles, [p.stem for p in content_paths],
                                [p.stem for p in style_paths], load_feature_network("efficientnet-lite2"))  # fmt: skip
    summary = summarise(evaluation)
    args.out.mkdir(parents=True, exist_ok=True)
    setup = {"pairs": len(contents) * len(styles), "size": args.size, "threads": torch.get_num_threads(),
             "precision": "bf16" if stylizer.bf16 else "fp32", "backend": stylizer.backend,
             "model": "the bundled model" if args.model is None else str(args.model)}  # fmt: skip
    (args.out / "metrics.json").write_text(json.dumps({"setup": setup, "summary": summary}, indent=1))
    lines = ["# Refinement: quality and time against the number of steps", "",
             f"Made by `python scripts/refine_table.py` (see its docstring): {setup['pairs']} held-out demo pairs at "
             f"{args.size} px, {setup['model']}, {setup['threads']} CPU threads, {setup['precision']}, backend "
             f"{setup['backend']}; {'Gatys and ' if args.gatys_iterations else ''}the peer in the same run.", "",
             "| method | " + " | ".join(label for _, label, _ in COLUMNS) + " |",
             "| --- |" + " --- |" * len(COLUMNS)]  # fmt: skip
    for row in summary:
        cells = [fmt.format(row[key]) if row.get(key) is not None else "—" for key, _, fmt in COLUMNS]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    (args.out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
