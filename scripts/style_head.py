"""Amortised refinement: learn, once, the search that `--refine` runs per style, on the frozen bundled model.

    python scripts/style_head.py train --statistics [--data runs/data256] [--steps 2000] [--out runs/style-head]
    python scripts/style_head.py evaluate --head runs/style-head [--styles 8] [--out runs/style-head/evaluation]
    python scripts/style_head.py attach --head runs/style-head --model src/waestyle/assets/model

Refining each style once on three unrelated photos transfers to any photo as well as per-pair refinement
(docs/results/quality/refine/once.md): the search's answer, per-layer codes and per-channel norm offsets,
belongs to the style. So a small network (waestyle.models.style_head.StyleHead) maps the style latent z_s and,
with `--statistics`, the style's own statistics to that answer, trained with the refinement's own objective
(`Refiner.terms`: each pair's style distance over the one-pass model's, the Lite0 content distance, the
prior-shell and offset penalties) through the frozen decoder, on training-source photos at 128 px and styles at
256 px. Its last layer starts at zero: at step 0 the head gives back z_s and no offsets, the one-pass model.
The method stays the research's: z_s from the frozen network's statistics, swapped for transfer; the head
only decides how each decoder layer reads it.

`train --init-head FOLDER --train-decoder` (research) starts from a trained head and lets the decoder learn
with it, under the same objective plus a reconstruction term (a photo through its own style must come back);
each pair's start stays the frozen bundled model's, and OUT/model is the resulting model folder with its head.
With `--content-fill prior` the trained model fills the z_c channels a small k drops with a draw from the prior
N(0, I) (fresh each step) instead of zeros, which the decoder can turn into the style's texture.

`train` holds out 5 % of the styles to report the objective on; `evaluate` judges the one-pass transfer with
each head against the model without one (and per-pair refinement, `--refine N`) and the peer, on the held-out
demo pairs at 512 px, by Lite2 and the filter bank, in one run; `attach` writes a head into a model folder.
"""

import argparse
import io
import json
import math
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tqdm import tqdm

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.core.config import CONTENT_FILLS, STYLE_LOSS_CHOICES
from waestyle.core.files import atomic_write_bytes
from waestyle.data.folders import build_dataset
from waestyle.data.images import load_image
from waestyle.evaluation.methods import IdentityMethod, ModelMethod, PeerMethod
from waestyle.evaluation.report import summarise
from waestyle.evaluation.runner import run_evaluation, square_batch
from waestyle.features import load_feature_network
from waestyle.models.io import save_model
from waestyle.models.style_head import (
    StyleHead,
    check_fits,
    content_size_input,
    load_style_head,
    save_style_head,
    statistics_vector,
    with_content_size,
)
from waestyle.models.wae import content_fill, keep_content_channels, sample_content_sizes
from waestyle.stylize.controls import keep_content
from waestyle.stylize.refine import REFINE_LOSS, Refiner, RefineSettings
from waestyle.stylize.stylizer import Stylizer
from waestyle.training.device_data import DeviceBatches, load_to_device, stored_side
from waestyle.training.distributed import Distributed

CONTENT_SIDE, STYLE_SIDE = 128, 256  # as the search: the photo at 128 px, the style as the encoder reads it


def head_for(stylizer: Stylizer, statistics_dim: int = 0, content_sized: bool = False,
             loss: str = REFINE_LOSS) -> StyleHead:  # fmt: skip
    return StyleHead(stylizer.config.style_dim, stylizer.model.decoder.modulation_sizes(),
                     statistics_dim=statistics_dim, loss=loss if statistics_dim else "",
                     content_sized=content_sized)  # fmt: skip


def load_head(folder: Path) -> tuple[StyleHead, int]:
    """(the head saved in `folder`, its step); also the first runs' head.safetensors + head.json."""
    found = load_style_head(folder)
    if found is not None:
        return found[0], found[1]["step"]
    meta = json.loads((folder / "head.json").read_text())
    head = StyleHead(meta["style_dim"], meta["sizes"], statistics_dim=meta.get("statistics_dim", 0), loss=REFINE_LOSS)
    head.load_state_dict(load_file(folder / "head.safetensors"))
    return head.eval(), meta["step"]


class Objective:
    """The refinement's objective (stylize/refine.py `Refiner.terms`), on a batch of pairs: each pair's style
    distance over the one-pass model's (no head, no gradient), so every style counts alike. (The log of the
    distance, tried first, rewards pushing an already close pair ever closer without bound: the penalties grew
    and training diverged.)"""

    def __init__(self, stylizer: Stylizer, settings: RefineSettings | None = None, content_power: float = 0.5,
                 reference: Stylizer | None = None, reconstruction_weight: float = 0.0,
                 style_reconstruction_weight: float = 0.0):  # fmt: skip
        self.model, self.settings = stylizer.model, settings or RefineSettings()
        self.refiner = Refiner(stylizer.model, stylizer.device, self.settings.loss)
        self.stats = self.refiner.stats
        self.content_power = content_power
        # With the decoder training, each pair's start comes from a frozen copy (the objective stays fixed), and
        # the head's transfer of a photo onto its own style must give the photo back (nothing else asks it to).
        self.reference = self.refiner if reference is None else Refiner(reference.model, reference.device,
                                                                        self.settings.loss)  # fmt: skip
        self.reconstruction_weight = reconstruction_weight
        # the decoder redrawing a style picture from its own code bounds what any content size can draw of it
        # (scripts/knob_floor.py); the photos' reconstruction term alone never asks it to redraw artworks
        self.style_reconstruction_weight = style_reconstruction_weight

    def __call__(self, head: StyleHead, contents: torch.Tensor, styles: torch.Tensor,
                 content_dim: int | None = None) -> dict[str, torch.Tensor]:  # fmt: skip
        """With `content_dim` k < the model's K, the transfer keeps k z_c channels and the content term weighs
        (k / K) ** content_power as much: fewer content channels ask for more style (the content-size knob)."""
        refiner, size, full = self.refiner, tuple(contents.shape[-2:]), self.model.config.content_dim
        k = full if content_dim is None else content_dim
        weight = self.settings.content_weight * (k / full) ** self.content_power
        settings = replace(self.settings, content_weight=weight)
        with torch.no_grad():
            z_style = self.model.encode_style(styles)
            target = self.stats.statistics(styles)
            z_photo = self.model.encode_content(contents)  # all of z_c; the reconstruction term reads it too
            # the start as the reference model fills dropped channels; the trained model's own fill, fresh each step
            z_start = keep_content(self.reference.model.config, z_photo, k)
            pictures, z_picture = self.pictures(styles, size)
            fill = content_fill(self.model.config, z_photo, None, z_picture)
            z_content = z_photo if k == full else keep_content_channels(z_photo, k, fill)
            photo = refiner.content_map(contents)
            _, start = self.reference.terms(z_style, z_start, size, photo, target, settings, k)
        sized = torch.full((len(contents),), content_size_input(k, full), device=contents.device)
        codes, offsets = head(z_style, statistics_vector(target) if head.statistics_dim else None, sized)
        terms = refiner.terms(codes, z_content, size, photo, target, settings, k, start, offsets)[0]
        if self.reconstruction_weight:
            terms["reconstruction"] = self.reconstruction(head, contents, z_photo)
            terms["loss"] = terms["loss"] + self.reconstruction_weight * terms["reconstruction"]
        if self.style_reconstruction_weight:
            terms["style_reconstruction"] = self.reconstruction(head, pictures, z_picture)
            terms["loss"] = terms["loss"] + self.style_reconstruction_weight * terms["style_reconstruction"]
        return terms

    def pictures(self, styles: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The style images at the photos' picture size and their own content codes, resized and encoded once:
        what a mosaic fill draws from and the style reconstruction term redraws ((None, None) if neither is on)."""
        if self.model.config.content_fill != "mosaic" and not self.style_reconstruction_weight:
            return None, None
        pictures = F.interpolate(styles, size=size, mode="bilinear", antialias=True)
        return pictures, self.model.encode_content(pictures)

    def reconstruction(self, head: StyleHead, contents: torch.Tensor, z_content: torch.Tensor) -> torch.Tensor:
        """Mean absolute pixel error of each photo decoded from its own z_c (all of it, as encoded) and its own
        style through the head."""
        with torch.no_grad():
            z_style = self.model.encode_style(contents)
            own = statistics_vector(self.stats.statistics(contents)) if head.statistics_dim else None
        full = self.model.config.content_dim
        sized = torch.full((len(contents),), content_size_input(full, full), device=contents.device)
        codes, offsets = head(z_style, own, sized)
        decoded = self.model.decode(z_content, codes, None, offsets)[..., : contents.shape[-2], : contents.shape[-1]]
        return (decoded.float() - contents).abs().mean()


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True  # on a GPU: tf32 matmuls
    # The decoder to train (or read through): the bundled model's unless --init-model names a model folder.
    stylizer = Stylizer.load(args.init_model, device=args.device, backend="torch", precision="fp32", style_head=False)
    for parameter in stylizer.model.parameters():
        parameter.requires_grad_(False)
    stylizer.model.eval()
    if args.content_fill:  # the trained model fills dropped z_c channels this way (its config says so when saved)
        stylizer.model.config = replace(stylizer.model.config, content_fill=args.content_fill)
    if args.mosaic_share:
        stylizer.model.config = replace(stylizer.model.config, mosaic_share=args.mosaic_share)
    settings = RefineSettings(content_weight=args.content_weight, colour_weight=args.colour_weight, loss=args.loss)
    # With --train-decoder each pair's start comes from a frozen copy of the bundled model (or --reference-model).
    reference = (Stylizer.load(args.reference_model, device=args.device, backend="torch", precision="fp32",
                               style_head=False) if args.train_decoder else None)  # fmt: skip
    objective = Objective(stylizer, settings, args.content_power, reference,
                          args.reconstruction_weight if args.train_decoder else 0.0,
                          args.style_reconstruction_weight if args.train_decoder else 0.0)  # fmt: skip
    probe = torch.rand(1, 3, 64, 64, device=device)
    with torch.no_grad():
        statistics_dim = statistics_vector(objective.stats.statistics(probe)).shape[1] if args.statistics else 0
    # A head from --init-head keeps its own inputs; --widen-head also has it read the content size (a zero column:
    # it starts answering as it did).
    if args.init_head:
        head = load_head(args.init_head)[0]
        head = with_content_size(head) if args.widen_head else head
    else:
        head = head_for(stylizer, statistics_dim, args.content_sizes, args.loss)
    head = head.to(device).train()
    groups = [{"params": head.parameters(), "lr": args.lr}]
    if args.train_decoder:
        # The decoder learns with the head; the encoders (z_c, z_s) and the loss networks stay as they are.
        reference.model.requires_grad_(False)
        stylizer.model.decoder.requires_grad_(True)
        groups.append({"params": stylizer.model.decoder.parameters(), "lr": args.decoder_lr})
    optimizer = torch.optim.Adam(groups)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    atomic_write_bytes(args.out / "settings.json", json.dumps(settings, indent=1).encode())
    start = 0
    if args.resume and (args.out / "checkpoint.pt").is_file():
        state = torch.load(args.out / "checkpoint.pt", map_location=device, weights_only=True)
        head.load_state_dict(state["head"])
        if args.train_decoder:
            stylizer.model.decoder.load_state_dict(state["decoder"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
    photos = load_to_device(build_dataset([args.data / "photos"], stored_side(CONTENT_SIDE)), device)
    styles = load_to_device(build_dataset([args.data / "styles"], STYLE_SIDE), device)
    order = torch.randperm(len(styles), generator=torch.Generator().manual_seed(0)).to(device)
    held = order[: max(8, len(styles) // 20)]
    train_styles, held_styles = styles[order[len(held) :]], styles[held]
    place = Distributed()
    content_batches = DeviceBatches(photos, CONTENT_SIDE, args.batch_size, args.seed, start, args.steps, place)
    style_batches = DeviceBatches(train_styles, STYLE_SIDE, args.batch_size, args.seed + 1, start, args.steps, place)
    check = (DeviceBatches(photos, CONTENT_SIDE, 16, 99, 0, 1, place, augment=False).batch(0),
             DeviceBatches(held_styles, STYLE_SIDE, 16, 98, 0, 1, place, augment=False).batch(0))  # fmt: skip
    if statistics_dim and start == 0 and args.init_head is None:
        head.fit_standardisation(training_statistics(objective, train_styles, place))
    log = open(args.out / "log.csv", "a")
    if start == 0:
        log.write("step,loss,style_ratio,content,held_style_ratio,held_content,content_dim\n")
    bar = tqdm(zip(content_batches, style_batches, strict=True), total=args.steps - start, desc="style head")
    full = stylizer.config.content_dim
    for step, (contents, style_images) in enumerate(bar, start + 1):
        # one content size per step (seeded by the step, so a resumed run draws the same): the model's nested
        # sizes, every octave alike (models.wae.sample_content_sizes)
        draw = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        k = int(sample_content_sizes(1, full, draw)[0]) if args.content_sizes else full
        terms = objective(head, contents, style_images, k)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], 1.0)
        optimizer.step()
        bar.set_postfix(loss=f"{terms['loss'].item():.3f}", style=f"{terms['style'].item():.3f}",
                        content=f"{terms['content'].item():.3f}")  # fmt: skip
        held_terms = {"style": math.nan, "content": math.nan}
        if step % args.check_every == 0 or step == args.steps or step == start + 1:
            with torch.no_grad():
                held_terms = {name: v.item() for name, v in objective(head, *check).items()}
            save(head, optimizer, step, args.out, stylizer if args.train_decoder else None)
        log.write(f"{step},{terms['loss'].item():.5f},{terms['style'].item():.5f},{terms['content'].item():.5f},"
                  f"{held_terms['style']:.5f},{held_terms['content']:.5f},{k}\n")  # fmt: skip
        log.flush()


@torch.no_grad()
def training_statistics(objective: "Objective", styles: torch.Tensor, place: Distributed, count: int = 512):
    """(N, D) statistics vectors of up to `count` training styles, as the encoder reads them (no augmentation)."""
    batches = DeviceBatches(styles[:count], STYLE_SIDE, 32, 0, 0, math.ceil(min(count, len(styles)) / 32), place,
                            augment=False)  # fmt: skip
    return torch.cat([statistics_vector(objective.stats.statistics(b)) for b in tqdm(batches, desc="statistics")])


def save(head: StyleHead, optimizer: torch.optim.Optimizer, step: int, out: Path,
         trained: Stylizer | None = None) -> None:  # fmt: skip
    """The head (style_head.safetensors, as a model folder holds it) and a resumable checkpoint, each written
    whole or not at all; with a trained decoder also OUT/model, a whole model folder (model, head)."""
    save_style_head(head, out, step)
    state = {"head": head.state_dict(), "optimizer": optimizer.state_dict(), "step": step}
    if trained is not None:
        (out / "model").mkdir(exist_ok=True)
        save_model(out / "model", trained.config, trained.model.trainable_state_dict(), step)
        save_style_head(head, out / "model", step)
        state["decoder"] = trained.model.decoder.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(out / "checkpoint.pt", buffer.getvalue())


def headed(plain: Stylizer, head: StyleHead) -> Stylizer:
    """`plain`'s model (loaded once) reading styles through `head`."""
    return Stylizer(plain.model, plain.device, backend=plain.backend, style_head=head)


def evaluate(args: argparse.Namespace) -> None:
    content_paths, style_paths = demo_contents()[: args.contents], demo_styles()[: args.styles]
    contents = square_batch([load_image(p) for p in content_paths], args.size)
    styles = square_batch([load_image(p) for p in style_paths], args.size)
    plain = Stylizer.load(None, style_head=False)  # z_s alone, as before the head
    methods: list = [IdentityMethod(), ModelMethod(plain, "waestyle one pass, z_s alone (no style head)")]
    for folder in args.head:
        head, step = load_head(folder)
        label = f"one pass with the style head ({folder.name}, step {step})"
        if (folder / "model" / "config.json").is_file():  # trained with its decoder (`train --train-decoder`)
            stylizer, label = Stylizer.load(folder / "model"), f"{label}, its own decoder"
        else:
            stylizer = headed(plain, head)
        methods += [ModelMethod(stylizer, label, k) for k in [None, *args.content_dims]]
    if args.refine:
        methods.append(ModelMethod(plain, "waestyle, z_s alone", None, args.refine))
    methods.append(PeerMethod())
    if args.peer_reference:
        methods.append(PeerMethod(reference=True))
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
        kernels = f" [{row['kernels']}]" if row.get("kernels") else ""
        lines.append(f"| {row['method']}{kernels} | " + " | ".join(cells) + " |")
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def attach(args: argparse.Namespace) -> None:
    """Write the head into a model folder (float16: half the file; outputs move by < 1e-3), so Stylizer.load
    reads every style through it."""
    head, step = load_head(args.head)
    check_fits(head, Stylizer.load(args.model, style_head=False).model.decoder, args.model)
    path = save_style_head(head, args.model, step, torch.float16)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, step {step})")


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
    fit.add_argument("--device", default="cpu", help="cpu or cuda (fp32, tf32 matmuls on a GPU)")
    fit.add_argument("--resume", action="store_true")
    fit.add_argument("--statistics", action="store_true", help="the head also reads the style's statistics")
    fit.add_argument("--init-head", type=Path, default=None, help="start from this folder's head (its inputs too)")
    fit.add_argument("--train-decoder", action="store_true",
                     help="the decoder learns too (OUT/model: the model folder with its head)")  # fmt: skip
    fit.add_argument("--decoder-lr", type=float, default=5e-5)
    fit.add_argument("--init-model", type=Path, default=None,
                     help="with --train-decoder: start from this model folder's decoder (each pair's start stays "
                          "the bundled model's)")  # fmt: skip
    fit.add_argument("--reference-model", type=Path, default=None,
                     help="with --train-decoder: the frozen model whose one-pass transfer scales each pair's "
                          "style distance (default: the bundled model's)")  # fmt: skip
    fit.add_argument("--widen-head", action="store_true",
                     help="with --init-head: the head learns to read the content size (--content-sizes)")  # fmt: skip
    fit.add_argument("--content-weight", type=float, default=RefineSettings.content_weight,
                     help="the objective's content term at all of z_c (more: the photo kept, less style)")  # fmt: skip
    fit.add_argument("--content-fill", choices=CONTENT_FILLS, default=None,
                     help="with --train-decoder: what the trained model puts in dropped z_c channels "
                          "(prior: a fresh N(0, I) draw each step, for the decoder to draw texture from; mosaic: "
                          "patches of the style image's own code, models/mosaic.py)")  # fmt: skip
    fit.add_argument("--mosaic-share", type=float, default=None,
                     help="with a mosaic fill: a patch's side as a share of the code grid's shorter side "
                          "(default: the model's, a quarter)")  # fmt: skip
    fit.add_argument("--style-reconstruction-weight", type=float, default=0.0,
                     help="with --train-decoder: a style picture (at the photos' size) through its own code and "
                          "style must come back too (pixel L1; 0: off)")  # fmt: skip
    fit.add_argument("--reconstruction-weight", type=float, default=1.0,
                     help="with --train-decoder: a photo through its own style must come back (pixel L1)")  # fmt: skip
    fit.add_argument(
        "--loss",
        default=REFINE_LOSS,
        choices=STYLE_LOSS_CHOICES,
        help="the style statistics of the objective (and, with --statistics, the head's input)",
    )
    fit.add_argument(
        "--content-sizes",
        action="store_true",
        help="train at every content size, the head told which (fewer z_c channels: more style)",
    )
    fit.add_argument(
        "--content-power",
        type=float,
        default=0.5,
        help="with --content-sizes, the content term weighs (k / K) ** this at k of K z_c channels",
    )
    fit.add_argument(
        "--colour-weight",
        type=float,
        default=1.0,
        help="how much the objective's pixel-colour statistics count against the Lite0 ones (1: alike)",
    )
    judge = commands.add_parser("evaluate")
    judge.add_argument("--head", type=Path, nargs="+", default=[Path("runs/style-head")])
    judge.add_argument("--contents", type=int, default=8)
    judge.add_argument("--styles", type=int, default=4)
    judge.add_argument("--size", type=int, default=512)
    judge.add_argument("--refine", type=int, default=0, help="also per-pair refinement, N steps (0: none)")
    judge.add_argument("--content-dims", type=int, nargs="*", default=[], help="also each head at these k")
    judge.add_argument("--out", type=Path, default=Path("runs/style-head/evaluation"))
    judge.add_argument("--peer-reference", action="store_true",
                       help="also the peer with its int8 graphs run as written (the same on every CPU)")  # fmt: skip
    join = commands.add_parser("attach")
    join.add_argument("--head", type=Path, default=Path("runs/style-head"))
    join.add_argument(
        "--model", type=Path, required=True, help="a model folder (the bundled one: src/waestyle/assets/model)"
    )
    args = parser.parse_args()
    if args.command == "train" and args.content_fill and not args.train_decoder:
        parser.error("--content-fill needs --train-decoder (the frozen decoder was trained with zeros)")
    {"train": train, "evaluate": evaluate, "attach": attach}[args.command](args)


if __name__ == "__main__":
    main()
