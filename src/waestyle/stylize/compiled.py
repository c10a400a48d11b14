"""Optional torch.compile of the inference networks: the same maths with fused kernels.

Eager PyTorch spends most of a 512-px transfer outside the convolutions (instance norms, activations,
padding and upsampling each walk the full-resolution maps in bf16), so Inductor's fused loops roughly halve
it (benchmarks/bench_peer.py). The price is a compile on first use: about 25 s, a few seconds once
Inductor's on-disk cache is warm, and again for an input shape its guards did not cover. So it is opt-in
(`--compile`): worth it for a server or a folder of images, not for one picture. Where compilation fails
(no C++ compiler, an unsupported platform) the eager function runs instead, with one warning.
"""

import logging
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)


class CompiledOrEager:
    """`fn` through torch.compile (dynamic shapes); the eager `fn` from the first failure on."""

    def __init__(self, fn: Callable, name: str):
        self.eager, self.name = fn, name
        self.compiled: Callable | None = torch.compile(fn, dynamic=True)

    def __call__(self, *args, **kwargs):
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as err:  # an Inductor/toolchain failure: keep working, say so once
                log.warning("torch.compile of the %s failed (%s); running it uncompiled", self.name, err)
                self.compiled = None
        return self.eager(*args, **kwargs)
