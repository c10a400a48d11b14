"""The `data` sub-commands: training sets made from what is installed here."""

import argparse
from pathlib import Path

from waestyle.core.config import DEFAULT_MAX_PIXELS
from waestyle.core.errors import WaestyleError


def add_data(commands) -> None:
    sub = commands.add_parser("data", help="prepare training data")
    actions = sub.add_subparsers(dest="action", required=True, metavar="ACTION")
    demo = actions.add_parser(
        "prepare-demo", help="write the default model's training set (photos/ and styles/) from installed sources"
    )
    demo.add_argument("--out", required=True, type=Path, metavar="DIR", help="an empty or new folder")
    demo.add_argument("--count", type=int, default=600, help="about how many photos and styles each (default: 600)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the crops and styles (default: 0)")
    demo.add_argument("--backgrounds", type=Path, default=Path("/usr/share/backgrounds"),
                      help="where Debian's lomiri-wallpapers-16.04 photographs are (default: %(default)s)")  # fmt: skip

    prepare = actions.add_parser(
        "prepare", help="write the training set (photos/, styles/, SOURCES.md) from packages installed here"
    )
    prepare.add_argument("--out", required=True, type=Path, metavar="DIR", help="an empty or new folder")
    prepare.add_argument("--size", type=int, default=128, help="side of the square crops (default: 128)")
    prepare.add_argument("--seed", type=int, default=0, help="seed of the crops and renderings (default: 0)")
    prepare.add_argument("--procedural", type=int, default=300, help="procedural styles added (default: 300)")
    prepare.add_argument("--workers", type=int, default=2, help="processes (default: 2)")
    prepare.add_argument("--share", type=Path, default=Path("/usr/share"),
                         help="where Debian packages install their pictures (default: %(default)s)")  # fmt: skip
    prepare.add_argument("--backgrounds", type=Path, default=Path("/usr/share/backgrounds"),
                         help="where lomiri-wallpapers-16.04 photographs are (default: %(default)s)")  # fmt: skip

    bundle = actions.add_parser(
        "bundle", help="a prepared training set cut down to a size budget, to upload to a remote (GPU) machine"
    )
    bundle.add_argument("source", type=Path, metavar="DIR", help="a folder written by `waestyle data prepare`")
    bundle.add_argument("--out", required=True, type=Path, metavar="DIR", help="an empty or new folder")
    bundle.add_argument("--max-mb", type=float, default=35.0, help="megabytes at most (default: 35)")
    bundle.add_argument("--quality", type=int, default=80, help="JPEG quality of the copies (default: 80)")

    pack = actions.add_parser("pack", help="decode and resize images once into a pack that `train --data` reads fast")
    pack.add_argument("data", nargs="+", metavar="[KIND:]DIR", help="image folders, as for `train --data`")
    pack.add_argument("--out", required=True, type=Path, metavar="PACK", help="a new folder for the pack")
    pack.add_argument("--image-size", type=int, required=True, help="side of the stored squares, e.g. 64 or 128")
    pack.add_argument("--workers", type=int, default=2, help="decoding processes (default: 2)")
    pack.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images")


def run_data(args: argparse.Namespace) -> int:
    if args.action == "bundle":
        from waestyle.data.bundle import write_bundle

        counts = write_bundle(args.source, args.out, args.max_mb, args.quality)
        print(
            f"wrote {counts['photos']} content and {counts['styles']} style crops ({counts['of']} in the source) "
            f"to {args.out}: {counts['megabytes']:.1f} MB"
        )
        return 0
    if args.action == "pack":
        from waestyle.data.packs import pack_summary, write_pack

        if args.workers < 0:
            raise WaestyleError("--workers must be 0 or more")
        meta = write_pack(args.data, args.out, args.image_size, workers=args.workers, max_pixels=args.max_pixels)
        skipped = f", {meta['skipped']} unreadable skipped" if meta["skipped"] else ""
        print(f"wrote a pack of {pack_summary(meta)} to {args.out}{skipped}")
        return 0
    if args.action == "prepare":
        from waestyle.data.recipe import prepare_training_data

        if not 32 <= args.size <= 1024 or args.procedural < 0 or args.workers < 1:
            raise WaestyleError("--size must be from 32 to 1024, --procedural 0 or more, --workers at least 1")
        counts = prepare_training_data(
            args.out, size=args.size, seed=args.seed, procedural=args.procedural, share=args.share,
            backgrounds=args.backgrounds, workers=args.workers,
        )  # fmt: skip
        print(
            f"wrote {counts['photos']} content crops ({counts['content_pictures']} pictures) and {counts['styles']} "
            f"style crops ({counts['style_sources']} sources) to {args.out} (sources in SOURCES.md)"
        )
        return 0
    from waestyle.data.demo_recipe import prepare_demo_data

    if args.count < 10:
        raise WaestyleError("--count must be at least 10")
    counts = prepare_demo_data(args.out, count=args.count, seed=args.seed, backgrounds=args.backgrounds)
    print(f"wrote {counts['photos']} photos and {counts['styles']} styles to {args.out} (sources in SOURCES.md)")
    if counts["missing"]:
        print(f"note: {counts['missing']} Debian photos not found (apt-get install lomiri-wallpapers-16.04)")
    return 0
