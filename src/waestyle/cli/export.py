"""The `export` sub-command: the model as ONNX graphs, checked against PyTorch when ONNX Runtime is there."""

import argparse
from pathlib import Path

from waestyle.cli.common import add_vgg19_option
from waestyle.core.errors import WaestyleError


def add_export(commands) -> None:
    sub = commands.add_parser(
        "export",
        help="write the model as ONNX: a style encoder and a transfer graph, and its style head's graphs when it "
        "has one (needs waestyle[onnx])",
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
    sub.add_argument(
        "--half",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the model folder again with float16 weights instead: half the file, the same outputs "
        "within a few 1/255 (it runs in float32 as before)",
    )
    sub.add_argument("--overwrite", action="store_true", help="replace an earlier export in the folder")
    sub.add_argument("--no-style-head", action="store_true",
                     help="leave the model's style head out: the graphs give the plain one-pass transfer")  # fmt: skip
    add_vgg19_option(sub)


def run_export(args: argparse.Namespace) -> int:
    from waestyle.stylize.onnx_backend import cached_export, is_exported, verify_export
    from waestyle.stylize.onnx_export import export_onnx
    from waestyle.stylize.stylizer import Stylizer

    if args.half is not None and args.web is not None:
        raise WaestyleError("--half and --web write different things: give one of them")
    stylizer = Stylizer.load(args.model, vgg19_weights=args.vgg19_weights, precision="fp32", backend="torch",
                             style_head=not args.no_style_head)  # fmt: skip
    if args.half is not None:
        return _export_half(stylizer, args)
    if args.web is not None:
        from waestyle.web.static_site import export_site

        site = export_site(stylizer.model, args.web, overwrite=args.overwrite, style_head=stylizer.head)
        size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        print(f"wrote a static site to {site} ({size / 2**20:.1f} MB); serve it with any static file server, e.g.")
        print(f"  python -m http.server -d {site}   (see {site / 'README.md'} for threads)")
        return 0
    cached = cached_export(stylizer.model, stylizer.head)  # exported already (serve, the backend): copied
    reuse = cached if is_exported(cached, stylizer.head) else None
    result = export_onnx(stylizer.model, args.out, overwrite=args.overwrite, style_head=stylizer.head, reuse=reuse)
    for path in result.files:
        print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB)")
    try:
        difference = verify_export(stylizer.model, result.folder, style_head=stylizer.head)
    except ImportError:
        print("checked with onnx.checker; install onnxruntime to compare the graphs with PyTorch")
        return 0
    if difference > 1e-3:
        raise WaestyleError(f"the exported graphs differ from PyTorch by {difference:.2g} (more than 1e-3)")
    print(f"checked with onnx.checker; ONNX Runtime matches PyTorch (max abs difference {difference:.1g})")
    return 0


def _export_half(stylizer, args: argparse.Namespace) -> int:
    """A float16 copy of the model folder, checked on a bundled pair against the float32 original."""
    from waestyle.core.bundled import DEFAULT_MODEL
    from waestyle.models.io import WEIGHTS_FILE, write_half_model
    from waestyle.stylize.stylizer import Stylizer

    source = args.model or DEFAULT_MODEL
    was = (source / WEIGHTS_FILE).stat().st_size / 2**20  # before: DIR may be the source folder itself
    out = write_half_model(source, args.half, overwrite=args.overwrite)
    half = Stylizer.load(out, vgg19_weights=args.vgg19_weights, precision="fp32", backend="torch")
    mean, largest = output_difference(stylizer, half)
    print(f"wrote {out / WEIGHTS_FILE} ({(out / WEIGHTS_FILE).stat().st_size / 2**20:.1f} MB, was {was:.1f} MB)")
    print(f"on a bundled pair at 256 px the output differs from float32 by {mean:.2f}/255 on average, "
          f"{largest:.0f}/255 at most")  # fmt: skip
    return 0


def output_difference(first, second, size: int = 256) -> tuple[float, float]:
    """Mean and largest absolute difference, in 1/255, between two stylizers' outputs on a bundled pair."""
    import numpy as np

    from waestyle.core.bundled import ASSETS
    from waestyle.data.images import load_image

    content, style = load_image(ASSETS / "content" / "astronaut.jpg"), load_image(ASSETS / "style" / "strokes.jpg")
    outputs = [np.asarray(s.transfer(content, style, long_side=size), dtype=np.float64) for s in (first, second)]
    difference = np.abs(outputs[0] - outputs[1])
    return float(difference.mean()), float(difference.max())
