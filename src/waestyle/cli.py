"""The `waestyle` command: thin sub-commands over train(), Stylizer and the batch runner.

Errors a user can fix print one line (`waestyle: error: ...`) and exit 1; no tracebacks unless
WAESTYLE_DEBUG=1 is set.
"""

import argparse
import logging
import os
import sys
from pathlib import Path

from waestyle import __version__
from waestyle.errors import WaestyleError
from waestyle.images import DEFAULT_MAX_PIXELS

FEATURE_CHOICES = ("efficientnet-lite0", "vgg19")
# Model settings the user may give to `train`, with their defaults (kept None in argparse so an
# explicit value can be told apart from a default when resuming).
MODEL_OPTIONS = {"image_size": 64, "content_dim": 128, "style_dim": 64, "features": "efficientnet-lite0"}
TRAIN_OPTIONS = {
    "data": None,
    "steps": 2000,
    "batch_size": 32,
    "lr": 1e-3,
    "mmd_weight": 1.0,
    "perceptual_weight": 0.0,
    "seed": 0,
    "checkpoint_every": 500,
    "sample_every": 500,
    "log_every": 10,
    "workers": 0,
    "max_pixels": DEFAULT_MAX_PIXELS,
    "device": "cpu",
}


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
    train.add_argument("--data", action="append", required=True, metavar="DIR", help="image folder (repeat to mix)")
    train.add_argument("--out", required=True, type=Path, metavar="RUN_DIR", help="where the model and logs go")
    train.add_argument("--image-size", type=int, help="training resolution, a power of two (default: 64)")
    train.add_argument("--content-dim", type=int, help="size of the content latent z_c, 32..512 (default: 128)")
    train.add_argument("--style-dim", type=int, help="size of the style latent z_s (default: 64)")
    train.add_argument("--features", choices=FEATURE_CHOICES, help="frozen ImageNet CNN (default: efficientnet-lite0)")
    train.add_argument("--steps", type=int, help="total optimiser steps (default: 2000)")
    train.add_argument("--batch-size", type=int, help="images per step (default: 32)")
    train.add_argument("--lr", type=float, help="Adam learning rate (default: 1e-3)")
    train.add_argument("--mmd-weight", type=float, help="weight of the WAE-MMD penalty on z_c and z_s (default: 1)")
    train.add_argument(
        "--perceptual-weight", type=float, help="weight of a feature-space reconstruction term (default: 0)"
    )
    train.add_argument("--seed", type=int, help="random seed; CPU runs with the same seed are identical (default: 0)")
    train.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default: 500)")
    train.add_argument("--sample-every", type=int, help="steps between sample grids (default: 500)")
    train.add_argument("--log-every", type=int, help="steps between rows of log.csv (default: 10)")
    train.add_argument("--workers", type=int, help="data-loading worker processes (default: 0)")
    train.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last checkpoint")
    _add_common(train)

    for name, what in (("transfer", "give CONTENT the style of STYLE"), ("reconstruct", "encode and decode images")):
        sub = commands.add_parser(name, help=what)
        sub.add_argument(
            "content", type=Path, metavar="CONTENT" if name == "transfer" else "IMAGE", help="file or folder"
        )
        if name == "transfer":
            sub.add_argument("style", type=Path, metavar="STYLE", help="image file or folder")
        sub.add_argument("-o", "--out", required=True, type=Path, help="output image, or folder for folder inputs")
        sub.add_argument("--model", required=True, type=Path, metavar="RUN_DIR", help="model folder from `train`")
        sub.add_argument("--size", type=int, default=None, help="long side of outputs in pixels (default: model's)")
        sub.add_argument("--batch-size", type=int, default=16, help="images per forward pass (default: 16)")
        sub.add_argument("--overwrite", action="store_true", help="replace existing output files")
        _add_common(sub)
    return parser


def _explicit(args: argparse.Namespace, names) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def run_train(args: argparse.Namespace) -> int:
    from waestyle.model import ModelConfig
    from waestyle.train import TrainConfig, train

    model_given = _explicit(args, MODEL_OPTIONS)
    train_given = _explicit(args, TRAIN_OPTIONS)
    model_config = ModelConfig(**{**MODEL_OPTIONS, **model_given})
    train_config = TrainConfig(**{**TRAIN_OPTIONS, **train_given})
    result = train(
        model_config,
        train_config,
        args.out,
        resume=args.resume,
        explicit=[*model_given, *train_given],
        feature_weights=args.vgg19_weights,
    )
    last = result.history[-1]
    print(
        f"trained steps {result.start_step + 1}-{result.steps}: loss {last['loss']:.4f} "
        f"(reconstruction {last['reconstruction']:.4f}); model in {args.out}"
    )
    return 0


def run_stylize(args: argparse.Namespace) -> int:
    from waestyle.batch import expand_inputs, plan_outputs, run_pairs
    from waestyle.stylize import Stylizer

    if args.batch_size < 1 or (args.size is not None and not 1 <= args.size <= 8192):
        raise WaestyleError("--batch-size must be at least 1 and --size between 1 and 8192")
    contents, content_folder = expand_inputs(args.content)
    styles, style_folder = expand_inputs(args.style) if args.command == "transfer" else (None, False)
    to_folder = content_folder or style_folder
    outputs = plan_outputs(contents, styles, args.out, to_folder=to_folder, overwrite=args.overwrite)
    stylizer = Stylizer.load(args.model, device=args.device or "cpu", feature_weights=args.vgg19_weights)
    report = run_pairs(
        stylizer,
        contents,
        styles,
        outputs,
        batch_size=args.batch_size,
        long_side=args.size,
        max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
        strict=not to_folder,  # a single bad file is an error; in a folder it is skipped and reported
    )
    for _, reason in report.skipped:
        print(f"waestyle: skipped {reason}", file=sys.stderr)
    where = report.written[0] if len(report.written) == 1 else args.out
    print(f"wrote {len(report.written)} image(s) to {where} ({report.seconds_per_image * 1000:.1f} ms per image)")
    return 1 if report.skipped else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(format="waestyle: %(levelname)s: %(message)s", level=logging.WARNING)
    try:
        return run_train(args) if args.command == "train" else run_stylize(args)
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
