"""The `serve` sub-command: the web app on uvicorn."""

import argparse
import os
from pathlib import Path

from waestyle.cli.common import add_backend_option, inference_options
from waestyle.core.errors import WaestyleError


def add_serve(commands) -> None:
    sub = commands.add_parser("serve", help="stylise in the browser: a web page and a REST API (needs waestyle[serve])")
    sub.add_argument("--model", type=Path, default=None, metavar="RUN_DIR", help="model folder (default: bundled)")
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sub.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    sub.add_argument("--max-side", type=int, default=768, help="long side processed per image (default: 768)")
    sub.add_argument(
        "--max-output-side", type=int, default=2048, help="largest long side of an output image (default: 2048)"
    )
    sub.add_argument("--max-upload-mb", type=int, default=20, help="largest uploaded file (default: 20)")
    sub.add_argument("--max-pixels", type=int, default=25_000_000, help="largest decoded image (default: 25,000,000)")
    sub.add_argument("--max-concurrent", type=int, default=2, help="transfers run at once (default: 2)")
    sub.add_argument(
        "--time-limit", type=float, default=120.0, help="seconds a transfer may take before a 503 (default: 120)"
    )
    sub.add_argument(
        "--api-key",
        default=os.environ.get("WAESTYLE_API_KEY"),
        help="require this key for transfers, in X-API-Key or Authorization: Bearer (default: $WAESTYLE_API_KEY)",
    )
    sub.add_argument("--rate-limit", type=int, default=0, help="transfers per client per minute (default: 0, no limit)")
    sub.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="behind a reverse proxy: its address, so X-Forwarded-For names the client (uvicorn's option)",
    )
    sub.add_argument("--device", default=None, help="cpu, cuda or auto (default: cpu)")
    add_backend_option(sub)


def run_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from waestyle.web.app import ServeLimits, create_app
    except ImportError as err:
        raise WaestyleError(
            f"serve needs the web extra: pip install 'waestyle[serve]' ({err.name} is missing)"
        ) from err
    from waestyle.stylize.stylizer import Stylizer

    if not 0 < args.port < 65536 or min(args.max_side, args.max_output_side) < 16:
        raise WaestyleError("--port must be 1-65535, --max-side and --max-output-side at least 16")
    if min(args.max_upload_mb, args.max_concurrent) < 1:
        raise WaestyleError("--max-upload-mb and --max-concurrent must be at least 1")
    if args.time_limit <= 0 or args.rate_limit < 0:
        raise WaestyleError("--time-limit must be positive and --rate-limit 0 or more")
    if args.api_key is not None and len(args.api_key) < 16:
        raise WaestyleError(
            "--api-key must be at least 16 characters "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    limits = ServeLimits(
        max_file_bytes=args.max_upload_mb * 2**20,
        max_request_bytes=(args.max_upload_mb * 2 + 8) * 2**20,
        max_pixels=args.max_pixels,
        max_side=args.max_side,
        max_output_side=args.max_output_side,
        max_concurrent=args.max_concurrent,
        transfer_seconds=args.time_limit,
        api_key=args.api_key,
        rate_per_minute=args.rate_limit,
    )
    stylizer = Stylizer.load(args.model, max_side=args.max_side, **inference_options(args))
    if stylizer.compiled:  # compile now, not in the first request
        print("waestyle: compiling the networks (torch.compile; about 25 s the first time, seconds once cached)")
        warm_up(stylizer)
    print(
        f"waestyle: serving on http://{args.host}:{args.port} (API docs at /docs, backend {stylizer.backend}"
        f"{', compiled' if stylizer.compiled else ''}); "
        "Ctrl-C stops"
    )
    proxy = {"proxy_headers": True, "forwarded_allow_ips": args.forwarded_allow_ips} if args.forwarded_allow_ips else {}
    uvicorn.run(create_app(stylizer, limits), host=args.host, port=args.port, log_level="warning", **proxy)
    return 0


def warm_up(stylizer) -> None:
    """One transfer of a bundled photo in a bundled style, at the working size."""
    from waestyle.core.bundled import demo_contents, demo_styles
    from waestyle.data.images import load_image

    stylizer.transfer(load_image(demo_contents()[0]), load_image(demo_styles()[0]), long_side=512)
