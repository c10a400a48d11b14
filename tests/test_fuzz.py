"""A seeded slice of the image fuzzer (benchmarks/fuzz_images.py; the recorded 10,000-case run is in
docs/ROBUSTNESS.md): every mutated file decodes or fails with a clear error, on every path, none hangs."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz_images.py"


def load_fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_images", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_three_hundred_mutated_images_give_no_traceback_and_no_hang():
    fuzzer = load_fuzzer()
    summary = fuzzer.fuzz(300, seed=0, cli_every=60, progress=False)
    assert summary["failures"] == [] and summary["hangs"] == 0
    assert summary["counts"].get("decoded", 0) > 30  # the mutations leave many files readable, too
    assert sum(summary["counts"].values()) == 300


def test_the_mutations_reach_every_header_kind():
    import random

    fuzzer = load_fuzzer()
    rng, kinds = random.Random(1), set()
    for data in fuzzer.seeds().values():
        for _ in range(20):
            kinds.add(fuzzer.set_dimensions(bytearray(data), 65_535, rng))
    assert {"png-ihdr", "jpeg-sof", "gif-screen", "bmp-header"} <= kinds
