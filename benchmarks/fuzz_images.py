"""An image fuzzer: seeded mutations of every format the project reads, through every way an image comes in.

    python benchmarks/fuzz_images.py [--cases 10000] [--seed 0] [--cli-every 50] [--out FILE.md]

Seeds: a bundled photo at 40-72 px saved as JPEG (baseline, progressive, grey, CMYK), PNG (RGB, RGBA, P,
16-bit grey), GIF, WebP, BMP and TIFF. Each case mutates one seed with a seeded mix of: bit flips, a
truncation, a run of one byte value, a duplicated chunk, inserted random bytes, and header dimensions set to
0, 1, 65,535 or 2^32 - 1 (PNG IHDR with its CRC fixed, JPEG SOF, GIF screen, BMP header). Every case goes
through `decode_image` (the CLI's reader) and, if it decodes, a transfer with the bundled model at a small
size; through the web upload path (`decode_upload`, whose errors must be 413 / 415 / 422); and every
`--cli-every`-th case through `waestyle transfer` in-process (exit 0 with an output, or exit 1 with no
output; 3 would be an internal error). Anything else is a failure, and so is a case over 2 s (a hang).
Prints the outcomes, the slowest cases and the peak memory (RSS); `--out` writes them as markdown.
"""

import argparse
import io
import random
import resource
import signal
import struct
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from pathlib import Path

from PIL import Image

from waestyle.cli.main import main as cli_main
from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.core.errors import WaestyleError
from waestyle.data.images import decode_image

HANG_SECONDS = 2.0
SIZES = (0, 1, 65_535, 2**32 - 1)


def seeds() -> dict[str, bytes]:
    """Small valid files, one per format and mode the project reads."""
    with Image.open(demo_contents()[0]) as photo:
        photo = photo.convert("RGB")
    rgb = photo.resize((72, 48))
    variants = {
        "jpeg": (rgb, "JPEG", {}), "jpeg-progressive": (rgb, "JPEG", {"progressive": True}),
        "jpeg-grey": (rgb.convert("L"), "JPEG", {}), "jpeg-cmyk": (rgb.convert("CMYK"), "JPEG", {}),
        "png": (rgb, "PNG", {}), "png-rgba": (rgb.convert("RGBA"), "PNG", {}),
        "png-palette": (rgb.convert("P"), "PNG", {}), "png-16bit": (rgb.convert("I;16"), "PNG", {}),
        "gif": (rgb.resize((40, 40)), "GIF", {}), "webp": (rgb, "WEBP", {"quality": 80}),
        "bmp": (rgb.resize((40, 30)), "BMP", {}), "tiff": (rgb.resize((40, 30)), "TIFF", {}),
    }  # fmt: skip
    out = {}
    for name, (image, fmt, options) in variants.items():
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        out[name] = buffer.getvalue()
    return out


def set_dimensions(data: bytearray, value: int, rng: random.Random) -> str:
    """Write `value` into the file's width or height field, where its format keeps one; fix the PNG CRC."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 33:
        offset = 16 + 4 * rng.randrange(2)
        data[offset : offset + 4] = struct.pack(">I", value)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
        return "png-ihdr"
    if data[:2] == b"\xff\xd8":
        for marker in (b"\xff\xc0", b"\xff\xc2"):
            at = data.find(marker)
            if at > 0 and at + 9 <= len(data):
                offset = at + 5 + 2 * rng.randrange(2)
                data[offset : offset + 2] = struct.pack(">H", min(value, 65_535))
                return "jpeg-sof"
    if data[:3] == b"GIF" and len(data) >= 10:
        offset = 6 + 2 * rng.randrange(2)
        data[offset : offset + 2] = struct.pack("<H", min(value, 65_535))
        return "gif-screen"
    if data[:2] == b"BM" and len(data) >= 26:
        offset = 18 + 4 * rng.randrange(2)
        data[offset : offset + 4] = struct.pack("<I", value)
        return "bmp-header"
    return "none"


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    """One to three seeded mutations of `data`, and their names."""
    out, done = bytearray(data), []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(("flip", "truncate", "run", "duplicate", "insert", "dimensions"))
        n = len(out)
        if kind == "flip" and n:
            for _ in range(rng.randint(1, 16)):
                out[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif kind == "truncate" and n:
            del out[rng.randrange(n) :]
        elif kind == "run" and n:
            start = rng.randrange(n)
            out[start : start + rng.randint(1, 64)] = bytes([rng.choice((0, 255, rng.randrange(256)))]) * rng.randint(
                1, 64
            )
        elif kind == "duplicate" and n:
            start = rng.randrange(n)
            chunk = out[start : start + rng.randint(1, 256)]
            at = rng.randrange(len(out) + 1)
            out[at:at] = chunk * rng.randint(1, 4)
        elif kind == "insert":
            at = rng.randrange(len(out) + 1)
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        elif kind == "dimensions":
            kind = set_dimensions(out, rng.choice(SIZES), rng)
        done.append(kind)
    return bytes(out), done


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def run_case(data: bytes, stylizer, upload, workdir: Path, cli: bool) -> dict:
    """The outcomes of one file through every path; failures listed with their traceback's last line."""
    result = {"failures": [], "decoded": False}
    try:
        image = decode_image(io.BytesIO(data), "fuzz", max_pixels=4_000_000)
        result["decoded"] = True
        stylizer.transfer(image, stylizer.random_style(0), long_side=48)
    except WaestyleError as err:
        result["error"] = type(err).__name__
    except Hang:
        raise
    except Exception:
        result["failures"].append("decode/transfer: " + traceback.format_exc().strip().splitlines()[-1])
    try:
        upload(data)
    except Hang:
        raise
    except Exception as err:  # the web path answers with an HTTPException of a client-error status
        code = getattr(err, "status_code", None)
        if code not in (413, 415, 422):
            result["failures"].append("upload: " + traceback.format_exc().strip().splitlines()[-1])
    if cli:
        source, out = workdir / "case.bin", workdir / "out.png"
        source.write_bytes(data)
        out.unlink(missing_ok=True)
        code = cli_main(["transfer", str(source), str(demo_styles()[0]), "-o", str(out), "--size", "48"])
        if code not in (0, 1) or (code == 0) != out.is_file():
            result["failures"].append(f"cli: exit {code}, output {'written' if out.is_file() else 'missing'}")
    return result


def fuzz(cases: int, seed: int = 0, cli_every: int = 50, progress: bool = True) -> dict:
    """Run `cases` mutated files; the summary (counts, failures, slowest, peak RSS)."""
    from waestyle.stylize.stylizer import Stylizer
    from waestyle.web.app import ServeLimits, decode_upload

    limits = ServeLimits(max_pixels=4_000_000)
    stylizer = Stylizer.load(max_side=64)

    def upload(data: bytes) -> None:
        decode_upload(bytearray(data), "content", limits, 256)

    bases, rng = seeds(), random.Random(seed)
    counts: Counter = Counter()
    failures, times = [], []
    previous = signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for case in range(cases):
                base = rng.choice(sorted(bases))
                data, kinds = mutate(bases[base], rng)
                t0 = time.perf_counter()
                signal.alarm(30)  # a real hang still ends, counted
                try:
                    result = run_case(data, stylizer, upload, Path(scratch), cli_every > 0 and case % cli_every == 0)
                except Hang:
                    result = {"failures": ["hang: over 30 s"], "decoded": False}
                finally:
                    signal.alarm(0)
                seconds = time.perf_counter() - t0
                times.append((seconds, case, base, "+".join(kinds)))
                counts["decoded" if result["decoded"] else result.get("error", "other")] += 1
                for failure in result["failures"]:
                    failures.append(f"case {case} ({base}, {'+'.join(kinds)}): {failure}")
                if progress and case % 500 == 0:
                    print(f"fuzz: {case}/{cases} cases, {len(failures)} failures", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGALRM, previous)
    times.sort(reverse=True)
    return {
        "cases": cases, "seed": seed, "counts": dict(counts), "failures": failures,
        "hangs": sum(1 for t in times if t[0] > HANG_SECONDS), "slowest": times[:5],
        "seconds": time.perf_counter() - started,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip


def report(summary: dict) -> str:
    lines = [
        f"{summary['cases']:,} cases (seed {summary['seed']}) in {summary['seconds']:.0f} s: "
        f"{len(summary['failures'])} failures (tracebacks, wrong status codes, exit 3), "
        f"{summary['hangs']} cases over {HANG_SECONDS:g} s, peak memory {summary['peak_rss_mib']:.0f} MiB.",
        "",
        "Outcomes of `decode_image`: " + ", ".join(f"{k} {v:,}" for k, v in sorted(summary["counts"].items())) + ".",
        "Slowest cases: " + "; ".join(f"{s:.2f} s ({base}, {kinds})" for s, _, base, kinds in summary["slowest"]) + ".",
    ]
    lines += [f"- {failure}" for failure in summary["failures"][:20]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cli-every", type=int, default=50, help="every Nth case also through the CLI (0: none)")
    parser.add_argument("--out", type=Path, default=None, help="write the report as markdown here")
    args = parser.parse_args()
    summary = fuzz(args.cases, args.seed, args.cli_every)
    text = report(summary)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            f"Made by `python benchmarks/fuzz_images.py --cases {args.cases} --seed {args.seed}`:\n\n{text}"
        )
    sys.exit(1 if summary["failures"] or summary["hangs"] else 0)


if __name__ == "__main__":
    main()
