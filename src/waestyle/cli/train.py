"""The `train` command: every model and training setting as a flag; values not given stay unset, so that on
`--resume` a typed value can be told from a default."""

import argparse
from dataclasses import fields
from pathlib import Path

from waestyle.cli.common import add_common_options
from waestyle.core.config import (
    ARCHITECTURES,
    CONTENT_FILLS,
    FEATURE_CHOICES,
    PRECISIONS,
    STYLE_LOSS_CHOICES,
    UPSAMPLING,
    ModelConfig,
    TrainConfig,
)

MODEL_DEFAULTS = {f.name: f.default for f in fields(ModelConfig)}
TRAIN_DEFAULTS = {f.name: f.default for f in fields(TrainConfig) if f.name != "data"}
# (setting, type or choices, help): one --flag each; the default shown is the config dataclass's.
SETTINGS = (
    ("arch", ARCHITECTURES, "global: the research model (vectors); spatial: fully convolutional, any size"),
    ("image_size", int, "training resolution (crop size for spatial), a power of two"),
    ("content_dim", int, "size of the content latent z_c, 32..512"),
    ("style_dim", int, "size of the style latent z_s"),
    ("content_stride", int, "spatial: pixels per z_c position along each side, a power of two"),
    ("features", FEATURE_CHOICES, "frozen CNN whose Gram matrices feed the style encoder and the style loss"),
    ("res_blocks", int, "spatial: residual blocks at the decoder's bottleneck"),
    ("style_size", int, "long side at which a style image is read (0: the image size)"),
    ("upsample", UPSAMPLING, "spatial: how the decoder doubles its maps"),
    ("style_regions", int, "spatial: style palettes per decoder layer, mixed per pixel by the content (1: one)"),
    ("content_fill", CONTENT_FILLS, "nested content: dropped z_c channels zeroed, prior draws or the style's code"),
    ("mosaic_share", float, "--content-fill mosaic: a patch's side as a share of the code grid's shorter side"),
    ("steps", int, "total optimiser steps"),
    ("batch_size", int, "images per step"),
    ("lr", float, "Adam learning rate"),
    ("mmd_weight", float, "weight of the WAE-MMD penalty on z_c and on z_s"),
    ("perceptual_weight", float, "weight of a feature-space reconstruction term"),
    ("style_loss_weight", float, "style consistency: Gram distance of swapped outputs to the style image's"),
    ("style_loss", STYLE_LOSS_CHOICES, "style consistency: other statistics than --features' Grams (default: those)"),
    ("style_floor", float, "--style-loss: each denominator at least this share of the batch's median (0: off)"),
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
    ("snapshots", str, "steps (e.g. 500,2000,8000) at which a float16 model folder is kept in RUN_DIR/snapshots"),
    ("log_every", int, "steps between rows of log.csv"),
    ("workers", int, "data-loading worker processes (per training process)"),
    ("precision", PRECISIONS, "auto: bf16 autocast on CUDA, fp32 on CPU"),
    ("max_minutes", float, "stop after this many minutes with a checkpoint (0: run all steps); --resume goes on"),
)


def add_train(commands) -> None:
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
    for name, kind, what in SETTINGS:
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
    train.add_argument(
        "--device-data",
        action="store_true",
        default=None,
        help="hold the training set on the device and cut, flip and colour-jitter each batch there (GPU runs)",
    )
    train.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last checkpoint")
    add_common_options(train)


def _explicit(args: argparse.Namespace, names) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def run_train(args: argparse.Namespace) -> int:
    from waestyle.training.loop import fine_tune_config, train

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
    stopped = "" if last["step"] == result.steps else f" (time limit: --resume goes on to step {result.steps})"
    print(
        f"trained steps {result.start_step + 1}-{last['step']}: loss {last['loss']:.4f} "
        f"(reconstruction {last['reconstruction']:.4f}); model in {args.out}{stopped}"
    )
    return 0
