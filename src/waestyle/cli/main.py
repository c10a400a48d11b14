"""The `waestyle` command: thin sub-commands over train(), Stylizer and the batch runner.

Errors a user can fix print one line (`waestyle: error: ...`) and exit 1; no tracebacks unless
WAESTYLE_DEBUG=1 is set.
"""

import argparse
import logging
import os
import sys

from waestyle.cli.data import add_data, run_data
from waestyle.cli.evaluate import add_evaluate, add_experiment, run_evaluate, run_experiment
from waestyle.cli.export import add_export, run_export
from waestyle.cli.serve import add_serve, run_serve
from waestyle.cli.stylize import add_demo, add_stylize, run_demo, run_stylize
from waestyle.cli.train import add_train, run_train
from waestyle.cli.video import add_video, run_video
from waestyle.core.errors import WaestyleError
from waestyle.core.version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="waestyle", description="Instant arbitrary image style transfer with a Wasserstein Autoencoder."
    )
    parser.add_argument("--version", action="version", version=f"waestyle {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_train, add_stylize, add_video, add_evaluate, add_experiment, add_data, add_serve, add_export,
                add_demo):  # fmt: skip
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(format="waestyle: %(levelname)s: %(message)s", level=logging.WARNING)
    try:
        runners = {"train": run_train, "evaluate": run_evaluate, "experiment": run_experiment, "data": run_data,
                   "demo": run_demo, "serve": run_serve, "export": run_export, "video": run_video}  # fmt: skip
        return runners.get(args.command, run_stylize)(args)
    except WaestyleError as err:
        print(f"waestyle: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("waestyle: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: keep the promise of one line, but let developers see the traceback
        if os.environ.get("WAESTYLE_DEBUG"):
            raise
        print(
            f"waestyle: internal error: {type(err).__name__}: {err} (set WAESTYLE_DEBUG=1 for details)", file=sys.stderr
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
