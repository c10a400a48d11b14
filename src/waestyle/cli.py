"""The `waestyle` command: thin sub-commands over train(), Stylizer and the batch runner.

Errors a user can fix print one line (`waestyle: error: ...`) and exit 1; no tracebacks unless
WAESTYLE_DEBUG=1 is set.
"""

import argparse
import logging
import os
import sys
from dataclasses import fields
from pathlib import Path

from waestyle import __version__
from waestyle.cli_data import add_data, run_data
from waestyle.cli_evaluate import add_evaluate, add_experiment, run_evaluate, run_experiment
from waestyle.cli_export import add_backend_option, add_export, run_export
from waestyle.cli_serve import add_serve, run_serve
from waestyle.config import (
    ARCHITECTURES,
    CONTENT_FILLS,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_SIDE,
    FEATURE_CHOICES,
    PRECISIONS,
    UPSAMPLING,
    ModelConfig,
    TrainConfig,
)
from waestyle.errors import WaestyleError

MODEL_DEFAULTS = {f.name: f.default for f in fields(ModelConfig)}
TRAIN_DEFAULTS = {f.name: f.default for f in fields(TrainConfig) if f.name != "data"}


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda or auto (default: cpu)")
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help=f"refuse images with more pixels than this (default: {DEFAULT_MAX_PIXELS:,})",
    )
    parser.add_argument(
        "--vgg19-weights", type=Path, default=None, help="torchvision's vgg19-dcbb9e9d.pth, for models using VGG19"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="waestyle", description="Instant arbitrary image style transfer with a Wasserstein Autoencoder."
    )
    parser.add_argument("--version", action="version", version=f"waestyle {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model on folders of images")
    train.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="DIR",
        help="image folder, optionally KIND:DIR with KIND celeba, anime or imagenet (repeat to mix)",
    )
    train.add_argument("--out", required=True, type=Path, metavar="RUN_DIR", help="where the model and logs go")
    # Defaults stay None here so that, on --resume, a value the user typed can be told from a default.
    for name, kind, what in (
        ("arch", ARCHITECTURES, "global: the research model (vectors); spatial: fully convolutional, any size"),
        ("image_size", int, "training resolution (crop size for spatial), a power of two"),
        ("content_dim", int, "size of the content latent z_c, 32..512"),
        ("style_dim", int, "size of the style latent z_s"),
        ("content_stride", int, "spatial: pixels per z_c position along each side, a power of two"),
        ("features", FEATURE_CHOICES, "frozen CNN whose Gram matrices feed the style encoder and the style loss"),
        ("res_blocks", int, "spatial: residual blocks at the decoder's bottleneck"),
        ("style_size", int, "long side at which a style image is read (0: the image size)"),
        ("upsample", UPSAMPLING, "spatial: how the decoder doubles its maps"),
        ("content_fill", CONTENT_FILLS, "nested content: dropped z_c channels zeroed or drawn from the prior"),
        ("steps", int, "total optimiser steps"),
        ("batch_size", int, "images per step"),
        ("lr", float, "Adam learning rate"),
        ("mmd_weight", float, "weight of the WAE-MMD penalty on z_c and on z_s"),
        ("perceptual_weight", float, "weight of a feature-space reconstruction term"),
        ("style_loss_weight", float, "style consistency: Gram distance of swapped outputs to the style image's"),
        ("content_loss_weight", float, "style consistency: deep-feature distance of swapped outputs to the content"),
        ("moment_loss_weight", float, "style consistency: feature means/std of swapped outputs to the style's"),
        ("tv_weight", float, "total variation of swapped outputs (damps high-frequency ripples)"),
        ("colour_loss_weight", float, "style consistency: pixel-colour mean and covariance of swapped outputs"),
        ("colour_histogram_weight", float, "style consistency: sliced Wasserstein distance of the pixel colours"),
        ("content_features", FEATURE_CHOICES, "frozen CNN for the content term (default: the --features network)"),
        ("content_size_power", float, "--content-loss-by-size: content weight (k / content_dim) ** this"),
        ("style_size_power", float, "--content-loss-by-size: style weight (content_dim / k) ** this"),
        ("reconstruction_size_power", float, "--content-loss-by-size: reconstruction weight (k / content_dim) ** this"),
        ("init_from", str, "fine-tune: start from this model folder's weights ('default': the bundled model)"),
        ("grad_clip", float, "clip the gradient's norm to this, 0: off"),
        ("seed", int, "random seed; CPU runs with the same seed are identical"),
        ("checkpoint_every", int, "steps between checkpoints"),
        ("sample_every", int, "steps between sample grids"),
        ("log_every", int, "steps between rows of log.csv"),
        ("workers", int, "data-loading worker processes (per training process)"),
        ("precision", PRECISIONS, "auto: bf16 autocast on CUDA, fp32 on CPU"),
    ):
        default = MODEL_DEFAULTS.get(name, TRAIN_DEFAULTS.get(name))
        choices = kind if isinstance(kind, tuple) else None
        train.add_argument(
            f"--{name.replace('_', '-')}",
            type=None if choices else kind,
            choices=choices,
            help=f"{what} (default: {default})",
        )
    train.add_argument(
        "--nested-content",
        action="store_true",
        default=None,
        help="train with nested dropout on z_c, so `transfer --content-dim k` works for every k",
    )
    train.add_argument(
        "--content-loss-by-size",
        action="store_true",
        default=None,
        help="nested content: weigh each image's content loss by its share of z_c, so a smaller --content-dim "
        "trades content for style",
    )
    train.add_argument(
        "--size-aware",
        action="store_true",
        default=None,
        help="nested content: tell the decoder how many z_c channels it got, so a small --content-dim can draw "
        "more style, not just less content",
    )
    train.add_argument(
        "--compile", action="store_true", default=None, help="torch.compile the training step (GPU, long runs)"
    )
    train.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last checkpoint")
    _add_common(train)

    for name, what in (("transfer", "give CONTENT the style of STYLE"), ("reconstruct", "encode and decode images")):
        sub = commands.add_parser(name, help=what)
        sub.add_argument(
            "content", type=Path, metavar="CONTENT" if name == "transfer" else "IMAGE", help="file or folder"
        )
        if name == "transfer":
            _add_style_options(sub)
        sub.add_argument("-o", "--out", required=True, type=Path, help="output image, or folder for folder inputs")
        sub.add_argument(
            "--model", type=Path, default=None, metavar="RUN_DIR", help="model folder from `train` (default: bundled)"
        )
        sub.add_argument(
            "--content-dim",
            type=int,
            default=None,
            help="keep the first k channels of z_c: less content, more style (needs a --nested-content model)",
        )
        sub.add_argument(
            "--size",
            type=int,
            default=None,
            help="long side of outputs in pixels (default: global model's size, spatial: the content's own)",
        )
        sub.add_argument(
            "--max-side",
            type=int,
            default=DEFAULT_MAX_SIDE,
            help=f"spatial: largest long side run in one pass; larger is resized up (default: {DEFAULT_MAX_SIDE})",
        )
        sub.add_argument(
            "--style-scale",
            type=float,
            default=1.0,
            help="spatial: size of the style's texture on the picture, 0.1-10; 2 doubles it (default: 1, the look "
            "of a 512-px result at any size)",
        )
        sub.add_argument("--batch-size", type=int, default=16, help="images per forward pass (default: 16)")
        sub.add_argument("--overwrite", action="store_true", help="replace existing output files")
        add_backend_option(sub)
        _add_common(sub)
    add_evaluate(commands)
    add_experiment(commands)
    add_data(commands)
    add_serve(commands)
    add_export(commands)
    demo = commands.add_parser("demo", help="stylise the bundled content images with the bundled styles")
    demo.add_argument("-o", "--out", type=Path, default=Path("out"), help="output folder (default: out)")
    demo.add_argument("--model", type=Path, default=None, metavar="RUN_DIR", help="model folder (default: bundled)")
    demo.add_argument("--size", type=int, default=None, help="long side of outputs (default: each content's own)")
    demo.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier demo")
    demo.add_argument("--device", default=None, help="cpu, cuda or auto (default: cpu)")
    add_backend_option(demo)
    return parser


def _add_style_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("style", type=Path, nargs="?", metavar="STYLE", help="style image file or folder")
    sub.add_argument(
        "--style",
        dest="styles",
        action="append",
        metavar="FILE|random",
        help="a style image, or `random` to sample one from the prior; repeat to mix styles",
    )
    sub.add_argument("--weights", default=None, help="mixing weights for repeated --style, e.g. 0.7,0.3")
    sub.add_argument("--seed", type=int, default=0, help="seed for --style random; the i-th uses seed + i (default: 0)")
    sub.add_argument(
        "--strength", type=float, default=1.0, help="0 keeps the content's own style, 1 the style image's (default: 1)"
    )
    sub.add_argument("--keep-colors", action="store_true", help="keep the content's colours, take only texture")


def _explicit(args: argparse.Namespace, names) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def run_train(args: argparse.Namespace) -> int:
    from waestyle.train import fine_tune_config, train

    model_given = _explicit(args, MODEL_DEFAULTS)
    train_given = _explicit(args, [*TRAIN_DEFAULTS, "data"])
    train_config = TrainConfig(**train_given)
    if train_config.init_from:  # the model's own settings are the starting point, checked with the given ones
        model_config = fine_tune_config(train_config.init_from, model_given)
    else:
        model_config = ModelConfig(**model_given)
    result = train(
        model_config,
        train_config,
        args.out,
        resume=args.resume,
        explicit=[*model_given, *train_given],
        vgg19_weights=args.vgg19_weights,
    )
    last = result.history[-1]
    print(
        f"trained steps {result.start_step + 1}-{result.steps}: loss {last['loss']:.4f} "
        f"(reconstruction {last['reconstruction']:.4f}); model in {args.out}"
    )
    return 0


def run_stylize(args: argparse.Namespace) -> int:
    from waestyle.batch import BatchReport, expand_inputs, plan_outputs, run_pairs, style_latents
    from waestyle.stylize import Stylizer

    if args.batch_size < 1 or (args.size is not None and not 1 <= args.size <= 8192) or args.max_side < 16:
        raise WaestyleError("--batch-size must be at least 1, --size between 1 and 8192, --max-side at least 16")
    if not 0.1 <= args.style_scale <= 10:
        raise WaestyleError(f"--style-scale must be from 0.1 to 10, got {args.style_scale}")
    transfer = args.command == "transfer"
    contents, content_folder = expand_inputs(args.content)
    style_files, style_folder, mixed = _style_sources(args) if transfer else ([None], False, None)
    to_folder = content_folder or style_folder
    outputs = plan_outputs(contents, style_files, args.out, to_folder=to_folder, overwrite=args.overwrite)
    stylizer = Stylizer.load(
        args.model,
        device=args.device or "cpu",
        vgg19_weights=args.vgg19_weights,
        max_side=args.max_side,
        backend=args.backend,
        compile=args.compile,
    )
    max_pixels = args.max_pixels or DEFAULT_MAX_PIXELS
    report = BatchReport()
    if mixed is not None:
        styles = [(None, _mixed_style(stylizer, mixed, args, max_pixels))]
    elif transfer:
        styles = style_latents(stylizer, style_files, max_pixels, report, strict=not to_folder)
    else:
        styles = [(None, None)]
    controls = {"content_dim": args.content_dim, "long_side": args.size, "style_scale": args.style_scale}
    if transfer:
        controls.update(strength=args.strength, keep_colors=args.keep_colors)
    run_pairs(
        stylizer,
        contents,
        styles,
        outputs,
        controls=controls,
        batch_size=args.batch_size,
        max_pixels=max_pixels,
        strict=not to_folder,  # a single bad file is an error; in a folder it is skipped and reported
        report=report,
    )
    for _, reason in report.skipped:
        print(f"waestyle: skipped {reason}", file=sys.stderr)
    where = report.written[0] if len(report.written) == 1 else args.out
    print(f"wrote {len(report.written)} image(s) to {where} ({report.seconds_per_image * 1000:.1f} ms per image)")
    return 1 if report.skipped else 0


def _style_sources(args: argparse.Namespace) -> tuple[list, bool, list[str] | None]:
    """(style files for output planning, whether STYLE is a folder, the --style list to mix or None)."""
    if (args.style is None) == (args.styles is None):
        raise WaestyleError("give one style: a STYLE file or folder, or one or more --style FILE|random")
    if args.weights is not None and args.styles is None:
        raise WaestyleError("--weights mixes repeated --style options")
    if args.styles is None:
        from waestyle.batch import expand_inputs

        files, folder = expand_inputs(args.style)
        return files, folder, None
    for spec in args.styles:
        if spec != "random" and not Path(spec).is_file():
            raise WaestyleError(f"{spec}: no such file (--style takes an image file or `random`)")
    return [None], False, args.styles


def _mixed_style(stylizer, specs: list[str], args: argparse.Namespace, max_pixels: int):
    """The z_s of repeated --style options: images and prior samples mixed by --weights."""
    from waestyle.images import load_image

    weights = None
    if args.weights is not None:
        try:
            weights = [float(w) for w in args.weights.split(",")]
        except ValueError as err:
            raise WaestyleError(f"--weights {args.weights!r}: give numbers separated by commas") from err
    # The i-th `random` uses seed + i, so two of them are two different styles.
    styles = [
        stylizer.random_style(args.seed + i) if spec == "random" else load_image(spec, max_pixels)
        for i, spec in enumerate(specs)
    ]
    return stylizer.mix_styles(styles, weights)


def run_demo(args: argparse.Namespace) -> int:
    from waestyle.demo import run_demo as demo

    if args.size is not None and not 16 <= args.size <= 4096:
        raise WaestyleError("--size must be between 16 and 4096")
    result = demo(
        args.out,
        args.model,
        device=args.device or "cpu",
        long_side=args.size,
        overwrite=args.overwrite,
        backend=args.backend,
        compile=args.compile,
    )
    print(
        f"wrote {len(result.outputs)} images and the grid {result.grid}: "
        f"{result.seconds_per_image * 1000:.0f} ms per image (one content in one style), "
        f"{result.style_seconds * 1000:.0f} ms per style image, encoded once"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(format="waestyle: %(levelname)s: %(message)s", level=logging.WARNING)
    try:
        runners = {"train": run_train, "evaluate": run_evaluate, "experiment": run_experiment, "data": run_data,
                   "demo": run_demo, "serve": run_serve, "export": run_export}  # fmt: skip
        return runners.get(args.command, run_stylize)(args)
    except WaestyleError as err:
        print(f"waestyle: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("waestyle: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: keep the promise of one line, but let developers see the traceback
        if os.environ.get("WAESTYLE_DEBUG"):
            raise
        print(
            f"waestyle: internal error: {type(err).__name__}: {err} (set WAESTYLE_DEBUG=1 for details)", file=sys.stderr
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
