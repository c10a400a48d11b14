"""Amortised refinement: learn, once, the search that `--refine` runs per style, on the frozen bundled model.

    python scripts/style_head.py train [--data runs/data256] [--steps 4000] [--out runs/style-head] [--resume]
    python scripts/style_head.py evaluate [--head runs/style-head] [--out docs/results/quality/style-head]

Refining each style once on three unrelated photos transfers to any photo as well as per-pair refinement
(docs/results/quality/refine/once.md): the search's answer, per-layer codes and per-channel norm offsets,
belongs to the style. So a small network (`StyleHead`) maps the style latent z_s to that answer, trained with
the refinement's own objective (log of the Lite0-moments-and-colours style distance, Lite0 content distance,
the prior-shell and offset penalties) through the frozen decoder, on training-source photos and styles at
128 px. Its last layer starts at zero: at step 0 the head gives back z_s and no offsets, the one-pass model.
The method stays the research's: z_s from the frozen network's statistics, swapped for transfer; the head
only decides how each decoder layer reads it.

`train` holds out 5 % of the styles to report the objective on; `evaluate` judges the one-pass transfer with
the head against the model without it, refinement once per style and the peer, on the held-out demo pairs at
512 px, by Lite2 and the filter bank, in one run.
"""

import argparse
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.core.files import atomic_write_bytes
from waestyle.data.folders import build_dataset
from waestyle.data.images import load_image
from waestyle.evaluation.methods import IdentityMethod, ModelMethod, PeerMethod, TransferOnly
from waestyle.evaluation.report import summarise
from waestyle.evaluation.runner import run_evaluation, square_batch
from waestyle.features import load_feature_network
from waestyle.features.style_statistics import StyleStatistics, load_style_loss
from waestyle.stylize.controls import Style
from waestyle.stylize.refine import REFINE_LOSS, Refiner, RefineSettings
from waestyle.stylize.stylizer import Stylizer
from waestyle.training.device_data import DeviceBatches, load_to_device, stored_side
from waestyle.training.distributed import Distributed

CONTENT_SIDE, STYLE_SIDE = 128, 256  # as the search: the photo at 128 px, the style as the encoder reads it


class StyleHead(nn.Module):
    """z_s (B, d) -> (per-layer codes (B, layers, d), norm offsets [(B, 2 x channels)] per styled layer).

    With `statistics_dim` > 0 it also reads the style's own statistics under the refinement's loss (each
    layer's per-channel mean and deviation, the colours' second moments: `statistics_vector`), standardised by
    the training styles' spread: what the search aims at, where z_s is 64 numbers distilled from other ones."""

    def __init__(self, style_dim: int, sizes: list[int], hidden: int = 512, statistics_dim: int = 0):
        super().__init__()
        self.style_dim, self.sizes, self.statistics_dim = style_dim, list(sizes), statistics_dim
        outputs = len(self.sizes) * style_dim + sum(self.sizes)
        self.net = nn.Sequential(nn.Linear(style_dim + statistics_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                                 nn.SiLU(), nn.Linear(hidden, outputs))  # fmt: skip
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        if statistics_dim:
            self.register_buffer("statistics_mean", torch.zeros(statistics_dim))
            self.register_buffer("statistics_std", torch.ones(statistics_dim))

    def fit_standardisation(self, vectors: torch.Tensor) -> None:
        """Centre and scale each statistic by its spread over training styles (N, statistics_dim)."""
        self.statistics_mean.copy_(vectors.mean(0))
        self.statistics_std.copy_(vectors.std(0).clamp_min(1e-6))

    def forward(self, z_style: torch.Tensor, statistics: torch.Tensor | None = None) -> tuple[torch.Tensor, list]:
        inputs = z_style
        if self.statistics_dim:
            standard = ((statistics - self.statistics_mean) / self.statistics_std).clamp(-5, 5)
            inputs = torch.cat([z_style, standard], dim=1)
        out = self.net(inputs)
        layers = len(self.sizes)
        codes = z_style[:, None] + out[:, : layers * self.style_dim].view(-1, layers, self.style_dim)
        return codes, list(out[:, layers * self.style_dim :].split(self.sizes, dim=1))


def statistics_vector(statistics: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, D): the compact part of a style's statistics (every layer's moments, the colours' Gram), the head's
    second input; the feature Gram matrices (21k numbers) are left to z_s."""
    keys = sorted(k for k in statistics if k.endswith("/moments") or k.endswith("rgb/gram"))
    return torch.cat([statistics[k].float() for k in keys], dim=1)


def head_for(stylizer: Stylizer, statistics_dim: int = 0) -> StyleHead:
    return StyleHead(stylizer.config.style_dim, stylizer.model.decoder.modulation_sizes(),
                     statistics_dim=statistics_dim)  # fmt: skip


def load_head(stylizer: Stylizer, folder: Path) -> tuple[StyleHead, int]:
    """(the head saved in `folder`, its step)."""
    meta = json.loads((folder / "head.json").read_text())
    head = head_for(stylizer, meta.get("statistics_dim", 0))
    head.load_state_dict(load_file(folder / "head.safetensors"))
    return head.eval(), meta["step"]


class Objective:
    """The refinement's objective (stylize/refine.py `Refiner.terms`), on a batch of pairs: each pair's style
    distance over the one-pass model's (no head, no gradient), so every style counts alike. (The log of the
    distance, tried first, rewards pushing an already close pair ever closer without bound: the penalties grew
    and training diverged.)"""

    def __init__(self, stylizer: Stylizer, settings: RefineSettings | None = None):
        self.model, self.settings = stylizer.model, settings or RefineSettings()
        self.refiner = Refiner(stylizer.model, torch.device("cpu"))
        self.stats = self.refiner.stats

    def __call__(self, head: StyleHead, contents: torch.Tensor, styles: torch.Tensor) -> dict[str, torch.Tensor]:
        refiner, size = self.refiner, tuple(contents.shape[-2:])
        with torch.no_grad():
            z_style = self.model.encode_style(styles)
            target = self.stats.statistics(styles)
            z_content = self.model.encode_content(contents)
            photo = refiner.content_map(contents)
            _, start = refiner.terms(z_style, z_content, size, photo, target, self.settings, None)
        codes, offsets = head(z_style, statistics_vector(target) if head.statistics_dim else None)
        return refiner.terms(codes, z_content, size, photo, target, self.settings, None, start, offsets)[0]


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    stylizer = Stylizer.load(None, backend="torch", precision="fp32")
    for parameter in stylizer.model.parameters():
        parameter.requires_grad_(False)
    stylizer.model.eval()
    objective = Objective(stylizer)
    probe = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        statistics_dim = statistics_vector(objective.stats.statistics(probe)).shape[1] if args.statistics else 0
    head = head_for(stylizer, statistics_dim)
    optimizer = torch.optim.Adam(head.parameters(), lr=args.lr)
    args.out.mkdir(parents=True, exist_ok=True)
    start = 0
    if args.resume and (args.out / "checkpoint.pt").is_file():
        state = torch.load(args.out / "checkpoint.pt", weights_only=True)
        head.load_state_dict(state["head"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
    photos = load_to_device(build_dataset([args.data / "photos"], stored_side(CONTENT_SIDE)), torch.device("cpu"))
    styles = load_to_device(build_dataset([args.data / "styles"], STYLE_SIDE), torch.device("cpu"))
    order = torch.randperm(len(styles), generator=torch.Generator().manual_seed(0))
    held = order[: max(8, len(styles) // 20)]
    train_styles, held_styles = styles[order[len(held) :]], styles[held]
    place = Distributed()
    content_batches = DeviceBatches(photos, CONTENT_SIDE, args.batch_size, args.seed, start, args.steps, place)
    style_batches = DeviceBatches(train_styles, STYLE_SIDE, args.batch_size, args.seed + 1, start, args.steps, place)
    check = (DeviceBatches(photos, CONTENT_SIDE, 16, 99, 0, 1, place, augment=False).batch(0),
             DeviceBatches(held_styles, STYLE_SIDE, 16, 98, 0, 1, place, augment=False).batch(0))  # fmt: skip
    if statistics_dim and start == 0:
        head.fit_standardisation(training_statistics(objective, train_styles, place))
    log = open(args.out / "log.csv", "a")
    if start == 0:
        log.write("step,loss,style_ratio,content,held_style_ratio,held_content\n")
    bar = tqdm(zip(content_batches, style_batches, strict=True), total=args.steps - start, desc="style head")
    for step, (contents, style_images) in enumerate(bar, start + 1):
        terms = objective(head, contents, style_images)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
        optimizer.step()
        bar.set_postfix(loss=f"{terms['loss'].item():.3f}", style=f"{terms['style'].item():.3f}",
                        content=f"{terms['content'].item():.3f}")  # fmt: skip
        held_terms = {"style": math.nan, "content": math.nan}
        if step % args.check_every == 0 or step == args.steps or step == start + 1:
            with torch.no_grad():
                held_terms = {k: v.item() for k, v in objective(head, *check).items()}
            save(head, optimizer, step, args.out)
        log.write(f"{step},{terms['loss'].item():.5f},{terms['style'].item():.5f},{terms['content'].item():.5f},"
                  f"{held_terms['style']:.5f},{held_terms['content']:.5f}\n")  # fmt: skip
        log.flush()


@torch.no_grad()
def training_statistics(objective: "Objective", styles: torch.Tensor, place: Distributed, count: int = 512):
    """(N, D) statistics vectors of up to `count` training styles, as the encoder reads them (no augmentation)."""
    batches = DeviceBatches(styles[:count], STYLE_SIDE, 32, 0, 0, math.ceil(min(count, len(styles)) / 32), place,
                            augment=False)  # fmt: skip
    return torch.cat([statistics_vector(objective.stats.statistics(b)) for b in tqdm(batches, desc="statistics")])


def save(head: StyleHead, optimizer: torch.optim.Optimizer, step: int, out: Path) -> None:
    """The head's weights (safetensors) and a resumable checkpoint, each written whole or not at all."""
    tensors = {k: v.contiguous() for k, v in head.state_dict().items()}
    save_file(tensors, out / "head.safetensors.tmp")
    (out / "head.safetensors.tmp").replace(out / "head.safetensors")
    meta = {"step": step, "sizes": head.sizes, "style_dim": head.style_dim, "statistics_dim": head.statistics_dim}
    atomic_write_bytes(out / "head.json", json.dumps(meta).encode())
    buffer = io.BytesIO()
    torch.save({"head": head.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, buffer)
    atomic_write_bytes(out / "checkpoint.pt", buffer.getvalue())


@dataclass
class HeadMethod(TransferOnly):
    """The bundled model in one pass, each layer's code and norm offsets from the head."""

    stylizer: Stylizer
    head: StyleHead
    label: str
    stats: StyleStatistics | None = None
    content_dim = None

    @property
    def name(self) -> str:
        return self.label

    def transfer(self, contents: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        plain = self.stylizer.style(style)
        with torch.no_grad():
            statistics = None
            if self.head.statistics_dim:  # the style as the encoder read it (256 px), as in training
                self.stats = self.stats or load_style_loss(REFINE_LOSS)
                statistics = statistics_vector(self.stats.statistics(plain.sources[0].float()))
            codes, offsets = self.head(plain.latent.float(), statistics)
        return self.stylizer.transfer(contents, Style(codes, plain.sources, plain.weights, offsets=offsets))


def evaluate(args: argparse.Namespace) -> None:
    content_paths, style_paths = demo_contents()[: args.contents], demo_styles()[: args.styles]
    contents = square_batch([load_image(p) for p in content_paths], args.size)
    styles = square_batch([load_image(p) for p in style_paths], args.size)
    stylizer = Stylizer.load(None)
    methods: list = [IdentityMethod(), ModelMethod(stylizer, "waestyle default (one pass)")]
    for folder in args.head:
        head, step = load_head(stylizer, folder)
        methods.append(HeadMethod(stylizer, head, f"one pass with the style head ({folder.name}, step {step})"))
    if args.refine:
        methods.append(ModelMethod(stylizer, "waestyle default", None, args.refine))
    methods.append(PeerMethod())
    evaluation = run_evaluation(methods, contents, styles, [p.stem for p in content_paths],
                                [p.stem for p in style_paths], load_feature_network("efficientnet-lite2"))  # fmt: skip
    rows = summarise(evaluation)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(rows, indent=1))
    columns = (("style_distance", "Lite2 ↓", "{:.3f}"), ("texture_distance_cut", "texture cut ↑", "{:.0%}"),
               ("colour_distance", "colour dist ↓", "{:.3f}"), ("content_distance", "content dist ↓", "{:.3f}"),
               ("grey_ssim", "SSIM to content ↑", "{:.3f}"), ("style_ssim", "SSIM to style ↓", "{:.3f}"),
               ("seconds_per_image", "s / image", "{:.2f}"))  # fmt: skip
    lines = ["| method | " + " | ".join(label for _, label, _ in columns) + " |", "| --- |" + " --- |" * len(columns)]
    for row in rows:
        cells = [fmt.format(row[key]) if row.get(key) is not None else "—" for key, _, fmt in columns]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("train")
    fit.add_argument("--data", type=Path, default=Path("runs/data256"))
    fit.add_argument("--out", type=Path, default=Path("runs/style-head"))
    fit.add_argument("--steps", type=int, default=4000)
    fit.add_argument("--batch-size", type=int, default=8)
    fit.add_argument("--lr", type=float, default=3e-4)
    fit.add_argument("--check-every", type=int, default=250)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--resume", action="store_true")
    fit.add_argument("--statistics", action="store_true", help="the head also reads the style's statistics")
    judge = commands.add_parser("evaluate")
    judge.add_argument("--head", type=Path, nargs="+", default=[Path("runs/style-head")])
    judge.add_argument("--contents", type=int, default=8)
    judge.add_argument("--styles", type=int, default=4)
    judge.add_argument("--size", type=int, default=512)
    judge.add_argument("--refine", type=int, default=0, help="also per-pair refinement, N steps (0: none)")
    judge.add_argument("--out", type=Path, default=Path("runs/style-head/evaluation"))
    args = parser.parse_args()
    if args.command == "train":
        train(args)
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
