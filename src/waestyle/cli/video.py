"""The `video` command: a clip through a Stylizer with one style for every frame (needs waestyle[video])."""

import argparse
from pathlib import Path

from waestyle.cli.common import add_backend_option, add_common_options, inference_options
from waestyle.core.config import DEFAULT_MAX_PIXELS
from waestyle.core.errors import WaestyleError


def add_video(commands) -> None:
    from waestyle.cli.stylize import add_style_options

    sub = commands.add_parser("video", help="give a video clip the style of STYLE, keeping its sound")
    sub.add_argument("video", type=Path, metavar="VIDEO", help="the clip (any format FFmpeg reads)")
    add_style_options(sub)
    sub.add_argument("-o", "--out", required=True, type=Path, help="output clip: .mp4, .mov, .mkv or .webm")
    sub.add_argument("--model", type=Path, default=None, metavar="RUN_DIR", help="model folder (default: bundled)")
    sub.add_argument("--content-dim", type=int, default=None, help="keep the first k channels of z_c")
    sub.add_argument("--long-side", type=int, default=None, help="output long side (default: the clip's own)")
    sub.add_argument("--style-scale", type=float, default=1.0, help="size of the style's texture (default: 1)")
    sub.add_argument(
        "--temporal",
        type=float,
        default=None,
        help="0-0.95: how much of the previous output, carried along the motion, each frame keeps where the "
        "motion is reliable; cuts flicker (default: 0.7; 0: each frame on its own)",
    )
    sub.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_backend_option(sub)
    add_common_options(sub)


def run_video(args: argparse.Namespace) -> int:
    try:
        import av  # noqa: F401
    except ImportError as err:
        raise WaestyleError("video needs PyAV: pip install 'waestyle[video]'") from err
    from waestyle.cli.stylize import check_style_controls, resolve_one_style
    from waestyle.stylize.stylizer import Stylizer
    from waestyle.stylize.video import DEFAULT_TEMPORAL, stylise_video

    if args.long_side is not None and not 16 <= args.long_side <= 4096:
        raise WaestyleError("--long-side must be between 16 and 4096")
    check_style_controls(args)
    stylizer = Stylizer.load(args.model, vgg19_weights=args.vgg19_weights, **inference_options(args))
    style = resolve_one_style(stylizer, args, args.max_pixels or DEFAULT_MAX_PIXELS)
    controls = {"strength": args.strength, "content_dim": args.content_dim, "keep_colors": args.keep_colors,
                "style_scale": args.style_scale}  # fmt: skip
    temporal = DEFAULT_TEMPORAL if args.temporal is None else args.temporal
    if not 0 <= temporal <= 0.95:
        raise WaestyleError(f"--temporal must be from 0 to 0.95, got {temporal}")
    report = stylise_video(stylizer, args.video, style, args.out, controls=controls, long_side=args.long_side,
                           temporal=temporal, refine=args.refine, overwrite=args.overwrite)  # fmt: skip
    audio = f", {report.audio_streams} audio stream(s) kept" if report.audio_streams else ""
    print(f"wrote {args.out}: {report.frames} frames, {report.size[0]}x{report.size[1]} at {float(report.rate):.3g} "
          f"frames/s{audio} ({report.frames_per_second:.2f} frames/s processed)")  # fmt: skip
    return 0
