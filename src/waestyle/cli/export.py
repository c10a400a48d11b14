"""The `export` sub-command: the model as ONNX graphs, checked against PyTorch when ONNX Runtime is there."""

import argparse
from pathlib import Path

from waestyle.cli.common import add_vgg19_option
from waestyle.core.errors import WaestyleError


def add_export(commands) -> None:
    sub = commands.add_parser(
        "export", help="write the model as ONNX: a style encoder and a transfer graph (needs waestyle[onnx])"
    )
    sub.add_argument("--model", type=Path, default=None, metavar="RUN_DIR", help="model folder (default: bundled)")
    sub.add_argument("-o", "--out", type=Path, default=Path("onnx"), help="output folder (default: onnx)")
    sub.add_argument(
        "--web",
        type=Path,
        default=None,
        metavar="DIR",
        help="write a static site instead: the page running the graphs in the visitor's browser (ONNX Runtime Web)",
    )
    sub.add_argument("--overwrite", action="store_true", help="replace an earlier export in the folder")
    add_vgg19_option(sub)


def run_export(args: argparse.Namespace) -> int:
    from waestyle.stylize.onnx_backend import verify_export
    from waestyle.stylize.onnx_export import export_onnx
    from waestyle.stylize.stylizer import Stylizer

    stylizer = Stylizer.load(args.model, vgg19_weights=args.vgg19_weights, precision="fp32", backend="torch")
    if args.web is not None:
        from waestyle.web.static_site import export_site

        site = export_site(stylizer.model, args.web, overwrite=args.overwrite)
        size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        print(f"wrote a static site to {site} ({size / 2**20:.1f} MB); serve it with any static file server, e.g.")
        print(f"  python -m http.server -d {site}   (see {site / 'README.md'} for threads)")
        return 0
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
