"""Options several commands share: device, pixel limit, VGG19 weights, inference backend."""

import argparse
from pathlib import Path

from waestyle.core.config import DEFAULT_MAX_PIXELS


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda or auto (default: cpu)")
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help=f"refuse images with more pixels than this (default: {DEFAULT_MAX_PIXELS:,})",
    )
    add_vgg19_option(parser)


def add_vgg19_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vgg19-weights", type=Path, default=None, help="torchvision's vgg19-dcbb9e9d.pth, for models using VGG19"
    )


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=("auto", "torch", "onnxruntime"),
        default="auto",
        help="inference engine; auto: the faster here (PyTorch bf16 on CPUs with AMX or on GPUs, else ONNX "
        "Runtime when waestyle[onnx] is installed) (default: auto)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="PyTorch backend: torch.compile the networks, about twice as fast per image after a one-off compile "
        "(about 25 s, seconds once cached); for many images",
    )
    parser.add_argument(
        "--no-style-head",
        dest="style_head",
        action="store_false",
        help="read each style as z_s alone, without the model's style head: the plain one-pass transfer, for "
        "comparison (models without a head always do)",
    )


def inference_options(args: argparse.Namespace) -> dict:
    """Stylizer.load's device, backend and style-head keywords from add_backend_option's options and --device."""
    return {"device": args.device or "cpu", "backend": args.backend, "compile": args.compile,
            "style_head": args.style_head}  # fmt: skip
