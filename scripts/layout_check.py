"""Do the judges reward copying the style picture? And what could fill the content channels a small k drops?

    python scripts/layout_check.py [--contents 8] [--styles 8] [--size 512] [--out docs/results/quality/layout-check]

On the held-out demo pairs (centre-cropped squares of `--size` px), one run with the peer judges:
- the bundled model at k = 64, 16, 4 (dropped content channels zeroed, as it was trained);
- *fill from the style*: the first k channels of the content's code, the rest from the style image's own
  content code (the decoder is told the code is whole): a smaller k gives more of the style picture;
- *random-phase fill*: the same, with the style's code first turned into a stationary texture (its Fourier
  amplitudes kept, one random phase for every channel, Galerne et al. 2011): the style's texture without its
  layout;
- *blends*: the model's output mixed in pixels with the style image (25 %, 50 %): not a transfer at all.
Judged by Lite2, the filter bank, colour, content, grey SSIM to the content, and grey SSIM to the style (the
layout check). Writes OUT/README.md (the table), OUT/report.md and its metrics and grids. About 40 minutes on
2 CPU cores.
"""

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.data.images import load_image
from waestyle.evaluation.methods import IdentityMethod, ModelMethod, PeerMethod, TransferOnly
from waestyle.evaluation.report import summarise, write_report
from waestyle.evaluation.runner import run_evaluation, square_batch
from waestyle.features import load_feature_network
from waestyle.models.mosaic import code_mosaic
from waestyle.stylize.finishing import finish_batch
from waestyle.stylize.resolution import resize, scaled_size, work_long_side
from waestyle.stylize.stylizer import Stylizer

COLUMNS = (("style_distance", "Lite2 ↓", "{:.3f}"), ("texture_distance_cut", "texture cut ↑", "{:.0%}"),
           ("colour_distance", "colour dist ↓", "{:.3f}"), ("content_distance", "content dist ↓", "{:.3f}"),
           ("grey_ssim", "SSIM to content ↑", "{:.3f}"), ("style_ssim", "SSIM to style ↓", "{:.3f}"))  # fmt: skip


def random_phase(code: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A stationary texture with `code`'s per-channel means and Fourier amplitudes: one random phase field,
    shared by all channels, keeps their cross-correlations and scrambles where things are."""
    mean = code.mean((2, 3), keepdim=True)
    noise = torch.randn(code.shape[-2:], generator=torch.Generator().manual_seed(seed))
    phase = torch.exp(1j * torch.angle(torch.fft.fft2(noise)))
    return torch.fft.ifft2(torch.fft.fft2(code - mean) * phase).real + mean


@dataclass
class StyleFill(TransferOnly):
    """The content's first k code channels, the rest from the style image's code (spatial models)."""

    stylizer: Stylizer
    content_dim: int
    scramble: bool = False
    mosaic: int = 0  # > 0: a mosaic of this many code pixels a side instead (see models/mosaic.py)

    @property
    def name(self) -> str:
        if self.mosaic:
            return f"mosaic fill ({self.mosaic * 8}-px patches) k={self.content_dim}"
        return f"{'random-phase fill' if self.scramble else 'fill from the style'} k={self.content_dim}"

    def transfer(self, contents: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        networks = self.stylizer.networks
        work = resize(contents, scaled_size(tuple(contents.shape[-2:]), work_long_side(1.0, self.stylizer.max_side)))
        z_content = networks.encode_content(work)
        z_fill = networks.encode_content(resize(style, tuple(work.shape[-2:])))
        if self.scramble:
            z_fill = random_phase(z_fill)
        elif self.mosaic:
            z_fill = code_mosaic(z_fill[:1], tuple(z_content.shape[-2:]), torch.Generator().manual_seed(0), self.mosaic)
        k = self.content_dim
        mixed = torch.cat([z_content[:, :k], z_fill.expand_as(z_content)[:, k:]], 1)
        decoded = networks.decode(mixed, self.stylizer.style_latent(style))[..., : work.shape[-2], : work.shape[-1]]
        return finish_batch(decoded, contents, spatial=True, keep_colors=False)


@dataclass
class BlendWithStyle(TransferOnly):
    """Not a transfer: `inner`'s output mixed in pixels with the style picture."""

    inner: ModelMethod
    alpha: float
    content_dim = None

    @property
    def name(self) -> str:
        return f"blend: {self.alpha:.0%} style picture"

    def transfer(self, contents: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        out = self.inner.transfer(contents, style)
        return (1 - self.alpha) * out + self.alpha * style.expand_as(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contents", type=int, default=8)
    parser.add_argument("--styles", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=Path("docs/results/quality/layout-check"))
    parser.add_argument("--mosaic", type=int, nargs="*", default=[], metavar="P",
                        help="also mosaic fills of P-code-pixel patches (8 px each), k = 16 and 8")  # fmt: skip
    parser.add_argument("--mosaic-only", action="store_true",
                        help="only the identity, the model at k = 64, the mosaic fills and the peer")  # fmt: skip
    args = parser.parse_args()
    content_paths, style_paths = demo_contents()[: args.contents], demo_styles()[: args.styles]
    contents = square_batch([load_image(p) for p in content_paths], args.size)
    styles = square_batch([load_image(p) for p in style_paths], args.size)
    stylizer = Stylizer.load(None)
    plain = ModelMethod(stylizer, "model", 64)
    methods: list = [IdentityMethod(), plain]
    if not args.mosaic_only:
        methods += [ModelMethod(stylizer, "model", 16), ModelMethod(stylizer, "model", 4)]
        methods += [StyleFill(stylizer, k, scramble) for scramble in (False, True) for k in (32, 16, 8)]
    methods += [StyleFill(stylizer, k, mosaic=patch) for patch in args.mosaic for k in (16, 8)]
    if not args.mosaic_only:
        methods += [BlendWithStyle(plain, alpha) for alpha in (0.25, 0.5)]
    methods.append(PeerMethod())
    judge = load_feature_network("efficientnet-lite2")
    evaluation = run_evaluation(methods, contents, styles, [p.stem for p in content_paths],
                                [p.stem for p in style_paths], judge)  # fmt: skip
    setup = {"pairs": len(contents) * len(styles), "image size": args.size, "threads": torch.get_num_threads(),
             "model": "the bundled model", "judge network": judge.name}  # fmt: skip
    write_report(evaluation, args.out, setup, contents, styles)
    lines = ["# Layout check: copying the style picture, and filling dropped content channels", "",
             f"Made by `python scripts/layout_check.py` (see its docstring): {setup['pairs']} held-out demo pairs at "
             f"{args.size} px, {setup['threads']} CPU threads, the peer in the same run. Full report: "
             "[report.md](report.md).", "",
             "| method | " + " | ".join(label for _, label, _ in COLUMNS) + " |",
             "| --- |" + " --- |" * len(COLUMNS)]  # fmt: skip
    for row in summarise(evaluation):
        cells = [fmt.format(row[key]) if row.get(key) is not None else "—" for key, _, fmt in COLUMNS]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Rows: the contents, the styles, then one row per method in the table's order; column j is content j "
        "with style j (the grid is downscaled by half before committing).",
        "",
        "![transfers](transfer-grid.jpg)",
    ]
    (args.out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
