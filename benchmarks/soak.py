"""A soak of `waestyle serve`: mixed valid and bad requests from N clients for T minutes, then the figures.

    python benchmarks/soak.py [--minutes 30] [--clients 4] [--max-requests 100000] [--url URL --pid PID]
                              [--out FILE.md]

Starts the server (bundled model, loopback, a free port) in a child process, or targets a running one on
127.0.0.1 (`--url`, and `--pid` for its memory). Each client loops over a seeded random choice of requests
until the time or the request budget is spent. Half are valid (a bundled pair; an uploaded photo in a bundled
style; a two-style mix with weights; a random style), half are bad and must get their own status: a truncated
JPEG (422), a text file as the content (415), an option out of range (422), a path-traversal example name
(422). Prints the requests by kind, wrong status codes, transport errors, latency p50 / p95 / p99, the
server's resident memory at the start, the end and its peak, and its slope over the second half (least
squares, MiB per 10 minutes). Targets: no wrong code, no error, slope within +-50 MiB / 10 min.
"""

import argparse
import io
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image

from waestyle.core.bundled import demo_contents


def photo_bytes(side: int = 384) -> bytes:
    with Image.open(demo_contents()[1]) as image:
        image = image.convert("RGB")
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def request_kinds() -> dict:
    """name -> (expected status, keyword arguments of the POST)."""
    photo = photo_bytes()
    return {
        "valid: bundled pair": (200, {"data": {"content_example": "cat", "style_example": "strokes"}}),
        "valid: uploaded photo": (200, {"files": {"content": ("p.jpg", photo, "image/jpeg")},
                                        "data": {"style_example": "mosaic"}}),
        "valid: two-style mix": (200, {"data": {"content_example": "dogs", "style_example": ["brick", "rings"],
                                                "weights": "0.7,0.3"}}),
        "valid: random style": (200, {"data": {"content_example": "fig", "random_style": "true", "seed": "7"}}),
        "bad: truncated JPEG": (422, {"files": {"content": ("t.jpg", photo[: len(photo) // 3], "image/jpeg")},
                                      "data": {"style_example": "dots"}}),
        "bad: text as content": (415, {"files": {"content": ("x.jpg", b"hello, not an image\n" * 20, "image/jpeg")},
                                       "data": {"style_example": "dots"}}),
        "bad: option out of range": (422, {"data": {"content_example": "cat", "style_example": "dots",
                                                    "strength": "2"}}),
        "bad: path traversal": (422, {"data": {"content_example": "../../../etc/passwd", "style_example": "dots"}}),
    }  # fmt: skip


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class MemorySampler(threading.Thread):
    """(seconds since start, RSS MiB) of process `pid`, once a second."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self.done, self.started = pid, [], threading.Event(), time.monotonic()

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.samples.append((time.monotonic() - self.started, resident_mib(self.pid)))

    def stop(self) -> None:
        self.done.set()
        self.join()


def slope_per_10_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over the second half of the run, in MiB per 10 minutes."""
    half = samples[len(samples) // 2 :]
    if len(half) < 2:
        return float("nan")
    ts, ms = zip(*half, strict=True)
    mt, mm = statistics.fmean(ts), statistics.fmean(ms)
    var = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (m - mm) for t, m in half) / var * 600 if var else 0.0


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "waestyle", "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit(f"soak: the server did not start: {server.stderr.read().decode()[-500:]}")
        time.sleep(0.2)


def soak(url: str, pid: int, minutes: float, clients: int, max_requests: int, seed: int = 0) -> dict:
    kinds = request_kinds()
    names = sorted(kinds)
    deadline = time.monotonic() + 60 * minutes
    budget = iter(range(max_requests))
    lock = threading.Lock()
    counts, wrong, errors, latencies = Counter(), Counter(), [], []
    start_rss = resident_mib(pid)
    sampler = MemorySampler(pid)
    sampler.start()

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        with httpx.Client(base_url=url, timeout=300) as http:
            while time.monotonic() < deadline:
                with lock:
                    if next(budget, None) is None:
                        return
                name = rng.choice(names)
                expected, kwargs = kinds[name]
                t0 = time.perf_counter()
                try:
                    response = http.post("/api/transfer", **kwargs)
                    status = response.status_code
                except httpx.HTTPError as err:
                    with lock:
                        errors.append(f"{name}: {type(err).__name__}")
                    continue
                seconds = time.perf_counter() - t0
                with lock:
                    counts[name] += 1
                    latencies.append(seconds)
                    if status != expected:
                        wrong[f"{name}: {status} (expected {expected})"] += 1

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    sampler.stop()
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, round(q * (len(latencies) - 1)))] if latencies else float("nan")

    peak = max((m for _, m in sampler.samples), default=start_rss)
    return {"minutes": minutes, "clients": clients, "counts": dict(counts), "wrong": dict(wrong), "errors": errors,
            "p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99), "rss_start": start_rss,
            "rss_end": resident_mib(pid), "rss_peak": peak, "slope": slope_per_10_min(sampler.samples)}  # fmt: skip


def report(r: dict) -> str:
    total = sum(r["counts"].values())
    lines = [
        f"{r['minutes']:g} minutes, {r['clients']} clients: {total:,} requests, {sum(r['wrong'].values())} wrong "
        f"status codes, {len(r['errors'])} transport errors; latency p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s, "
        f"p99 {r['p99']:.2f} s; server memory {r['rss_start']:.0f} MiB at the start, {r['rss_end']:.0f} at the end, "
        f"{r['rss_peak']:.0f} at the peak, slope over the second half {r['slope']:+.1f} MiB / 10 min.",
        "",
        "| request | count |",
        "| --- | --- |",
        *(f"| {name} | {count:,} |" for name, count in sorted(r["counts"].items())),
    ]
    lines += [f"- wrong: {k} x {v}" for k, v in r["wrong"].items()] + [f"- error: {e}" for e in r["errors"][:10]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--url", default=None, help="a running server on loopback (default: start one)")
    parser.add_argument("--pid", type=int, default=None, help="with --url: the server's process id, for memory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the report as markdown here")
    args = parser.parse_args()
    if args.url and not (args.url.startswith("http://127.0.0.1") or args.url.startswith("http://localhost")):
        raise SystemExit("soak: only a server on loopback (127.0.0.1 or localhost)")
    if args.url and args.pid is None:
        raise SystemExit("soak: with --url, give --pid (the server's process id) to read its memory")
    server = None
    if args.url is None:
        server, url = start_server()
        pid = server.pid
    else:
        url, pid = args.url.rstrip("/"), args.pid
    try:
        result = soak(url, pid, args.minutes, args.clients, args.max_requests, args.seed)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    text = report(result)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        command = f"python benchmarks/soak.py --minutes {args.minutes:g} --clients {args.clients}"
        args.out.write_text(f"Made by `{command}`:\n\n{text}")
    sys.exit(1 if result["wrong"] or result["errors"] else 0)


if __name__ == "__main__":
    main()
