"""The `data` sub-commands: training sets made from what is installed here."""

import argparse
from pathlib import Path

from waestyle.errors import WaestyleError


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


def run_data(args: argparse.Namespace) -> int:
    from waestyle.demo_data import prepare_demo_data

    if args.count < 10:
        raise WaestyleError("--count must be at least 10")
    counts = prepare_demo_data(args.out, count=args.count, seed=args.seed, backgrounds=args.backgrounds)
    print(f"wrote {counts['photos']} photos and {counts['styles']} styles to {args.out} (sources in SOURCES.md)")
    if counts["missing"]:
        print(f"note: {counts['missing']} Debian photos not found (apt-get install lomiri-wallpapers-16.04)")
    return 0
