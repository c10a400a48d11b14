"""Load test of `waestyle serve`: a bounded number of concurrent requests to 127.0.0.1.

    python benchmarks/bench_serve.py [--requests 64] [--concurrency 4] [--size 512] [--max-concurrent 2]

Starts the server (bundled model) in a child process on a free loopback port, sends `--requests`
POST /api/transfer requests (a bundled photo resized to `--size` on its long side, uploaded, with a
bundled style), `--concurrency` at a time, and prints requests/s, p50/p99 latency and the error
count, and the server's resident memory: at idle (after one warm-up request) and its peak above that during
the load (sampled every 20 ms from /proc). The memory goal's load: 12 concurrent uploads of a 20-megapixel
JPEG, `--requests 12 --concurrency 12 --megapixels 20`. Sends nothing anywhere but 127.0.0.1 and stops by
itself.
"""

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from PIL import Image

from waestyle.core.bundled import demo_contents


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--size", type=int, default=512, help="long side of the uploaded photo")
    parser.add_argument("--megapixels", type=float, default=None, help="upload this many megapixels instead")
    parser.add_argument("--max-concurrent", type=int, default=2, help="the server's --max-concurrent")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "waestyle", "serve", "--port", str(port), "--max-concurrent", str(args.max_concurrent)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    photo = Image.open(demo_contents()[0]).convert("RGB")
    scale = args.size / max(photo.size)
    if args.megapixels:
        scale = (args.megapixels * 1e6 / (photo.width * photo.height)) ** 0.5
    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=90)
    upload = buffer.getvalue()
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"the server did not start: {server.stderr.read().decode()[-500:]}")
                time.sleep(0.2)

            def one(i: int) -> tuple[float, bool]:
                start = time.perf_counter()
                files = {"content": ("photo.jpg", upload, "image/jpeg")}
                try:
                    response = client.post("/api/transfer", files=files, data={"style_example": "strokes"})
                    ok = response.status_code == 200 and response.content[:4] == b"\x89PNG"
                except httpx.HTTPError:
                    ok = False
                return time.perf_counter() - start, ok

            one(-1)  # warm-up
            idle = resident_mib(server.pid)
            sampler = PeakSampler(server.pid)
            sampler.start()
            started = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                results = list(pool.map(one, range(args.requests)))
            elapsed = time.perf_counter() - started
            sampler.stop()
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies = sorted(t for t, _ in results)
    errors = sum(not ok for _, ok in results)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(f"cpu threads={os.cpu_count()} photo={photo.size[0]}x{photo.size[1]} requests={args.requests} "
          f"concurrency={args.concurrency} server max-concurrent={args.max_concurrent}")  # fmt: skip
    print(f"requests/s {args.requests / elapsed:.2f}  p50 {statistics.median(latencies) * 1000:.0f} ms  "
          f"p99 {p99 * 1000:.0f} ms  errors {errors}")  # fmt: skip
    print(f"server memory: idle {idle:.0f} MiB, peak {sampler.peak:.0f} MiB under load "
          f"(+{sampler.peak - idle:.0f} MiB); upload {len(upload) / 2**20:.1f} MB")  # fmt: skip


def resident_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PeakSampler(threading.Thread):
    """The largest resident memory of process `pid` seen while running."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, resident_mib(self.pid))

    def stop(self) -> None:
        self.done.set()
        self.join()


if __name__ == "__main__":
    main()
