"""The `export` sub-command: the model as ONNX graphs, checked against PyTorch when ONNX Runtime is there."""

import argparse
from pathlib import Path

from waestyle.errors import WaestyleError


def add_export(commands) -> None:
    sub = commands.add_parser(
        "export", help="write the model as ONNX: a style encoder and a transfer graph (needs waestyle[onnx])"
    )
    sub.add_argument("--model", type=Path, default=None, metavar="RUN_DIR", help="model folder (default: bundled)")
    sub.add_argument("-o", "--out", type=Path, default=Path("onnx"), help="output folder (default: onnx)")
    sub.add_argument("--overwrite", action="store_true", help="replace an earlier export in the folder")
    sub.add_argument(
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


def run_export(args: argparse.Namespace) -> int:
    from waestyle.onnx_export import export_onnx, verify_export
    from waestyle.stylize import Stylizer

    stylizer = Stylizer.load(args.model, vgg19_weights=args.vgg19_weights, precision="fp32", backend="torch")
    result = export_onnx(stylizer.model, args.out, overwrite=args.overwrite)
    for path in (result.style_graph, result.transfer_graph, result.sidecar):
        print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB)")
    try:
        difference = verify_export(stylizer.model, result.folder)
    except ImportError:
        print("checked with onnx.checker; install onnxruntime to compare the graphs with PyTorch")
        return 0
    if difference > 1e-3:
        raise WaestyleError(f"the exported graphs differ from PyTorch by {difference:.2g} (more than 1e-3)")
    print(f"checked with onnx.checker; ONNX Runtime matches PyTorch (max abs difference {difference:.1g})")
    return 0
