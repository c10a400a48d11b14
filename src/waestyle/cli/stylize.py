"""The `transfer`, `reconstruct` and `demo` commands: files and folders through a Stylizer."""

import argparse
import sys
from pathlib import Path

from waestyle.cli.common import add_backend_option, add_common_options, inference_options
from waestyle.core.config import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE
from waestyle.core.errors import WaestyleError


def add_stylize(commands) -> None:
    for name, what in (("transfer", "give CONTENT the style of STYLE"), ("reconstruct", "encode and decode images")):
        sub = commands.add_parser(name, help=what)
        sub.add_argument(
            "content", type=Path, metavar="CONTENT" if name == "transfer" else "IMAGE", help="file or folder"
        )
        if name == "transfer":
            add_style_options(sub)
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
        add_common_options(sub)


def add_demo(commands) -> None:
    demo = commands.add_parser("demo", help="stylise the bundled content images with the bundled styles")
    demo.add_argument("-o", "--out", type=Path, default=Path("out"), help="output folder (default: out)")
    demo.add_argument("--model", type=Path, default=None, metavar="RUN_DIR", help="model folder (default: bundled)")
    demo.add_argument("--size", type=int, default=None, help="long side of outputs (default: each content's own)")
    demo.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier demo")
    demo.add_argument("--device", default=None, help="cpu, cuda or auto (default: cpu)")
    add_backend_option(demo)


def add_style_options(sub: argparse.ArgumentParser, refine: bool = True) -> None:
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
    if not refine:
        return
    sub.add_argument(
        "--refine",
        type=int,
        default=0,
        metavar="N",
        help="search the style latent (and each decoder layer's scale and shift) N steps towards the style image's "
        "statistics: more of its style, about 0.04 s a step per image, 30 recommended (a video: once, on its first "
        "frame) (default: 0, off)",
    )


def run_stylize(args: argparse.Namespace) -> int:
    from waestyle.stylize.batch import BatchReport, expand_inputs, plan_outputs, run_pairs, style_latents
    from waestyle.stylize.stylizer import Stylizer

    if args.batch_size < 1 or (args.size is not None and not 1 <= args.size <= 8192) or args.max_side < 16:
        raise WaestyleError("--batch-size must be at least 1, --size between 1 and 8192, --max-side at least 16")
    check_style_controls(args)
    transfer = args.command == "transfer"
    contents, content_folder = expand_inputs(args.content)
    style_files, style_folder, mixed = _style_sources(args) if transfer else ([None], False, None)
    to_folder = content_folder or style_folder
    outputs = plan_outputs(contents, style_files, args.out, to_folder=to_folder, overwrite=args.overwrite)
    stylizer = Stylizer.load(
        args.model, vgg19_weights=args.vgg19_weights, max_side=args.max_side, **inference_options(args)
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
        controls.update(strength=args.strength, keep_colors=args.keep_colors, refine=args.refine)
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
        from waestyle.stylize.batch import expand_inputs

        files, folder = expand_inputs(args.style)
        return files, folder, None
    for spec in args.styles:
        if spec != "random" and not Path(spec).is_file():
            raise WaestyleError(f"{spec}: no such file (--style takes an image file or `random`)")
    return [None], False, args.styles


def check_style_controls(args: argparse.Namespace) -> None:
    """--style-scale and --refine within their ranges (transfer, reconstruct and video)."""
    if not 0.1 <= args.style_scale <= 10:
        raise WaestyleError(f"--style-scale must be from 0.1 to 10, got {args.style_scale}")
    if not 0 <= getattr(args, "refine", 0) <= 1000:
        raise WaestyleError(f"--refine must be from 0 to 1000 steps, got {args.refine}")


def resolve_one_style(stylizer, args: argparse.Namespace, max_pixels: int):
    """One style for a whole run (a video): a STYLE file, or repeated --style mixed by --weights."""
    files, folder, mixed = _style_sources(args)
    if folder or len(files) != 1:
        raise WaestyleError(f"{args.style}: give one style image, not a folder")
    if mixed is not None:
        return _mixed_style(stylizer, mixed, args, max_pixels)
    from waestyle.data.images import load_image

    return stylizer.style(load_image(files[0], max_pixels))


def _mixed_style(stylizer, specs: list[str], args: argparse.Namespace, max_pixels: int):
    """The z_s of repeated --style options: images and prior samples mixed by --weights."""
    from waestyle.data.images import load_image

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
    return stylizer.style(styles, weights)


def run_demo(args: argparse.Namespace) -> int:
    from waestyle.stylize.demo import run_demo as demo

    if args.size is not None and not 16 <= args.size <= 4096:
        raise WaestyleError("--size must be between 16 and 4096")
    result = demo(args.out, args.model, long_side=args.size, overwrite=args.overwrite, **inference_options(args))
    print(
        f"wrote {len(result.outputs)} images and the grid {result.grid}: "
        f"{result.seconds_per_image * 1000:.0f} ms per image (one content in one style), "
        f"{result.style_seconds * 1000:.0f} ms per style image, encoded once"
    )
    return 0
