"""The ONNX Runtime backend: Stylizer's two hot paths (style image -> z_s, transfer) on exported graphs.

The graphs come from `waestyle export` (onnx_export.py). Stylizer.load exports them once per model into a
cache folder (`$WAESTYLE_CACHE`, else ~/.cache/waestyle), named by a digest of the weights, and reuses them.
Which backend is faster depends on the CPU (measured by benchmarks/bench_peer.py): PyTorch's bf16
convolutions on CPUs with AMX tiles beat ONNX Runtime's fp32 ones; elsewhere ONNX Runtime's fp32 graph beats
PyTorch's fp32 eager mode. `default_backend` encodes that.
"""

import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from waestyle.core.errors import WaestyleError
from waestyle.features.style_statistics import load_style_loss
from waestyle.models.style_head import StyleHead
from waestyle.models.wae import WAEStyleModel
from waestyle.stylize.onnx_export import (
    FORMAT_VERSION,
    HEAD_GRAPH,
    SIDECAR,
    STATISTICS_GRAPH,
    STYLE_GRAPH,
    TRANSFER_GRAPH,
    HeadGraph,
    StatisticsGraph,
    TransferGraph,
    export_onnx,
    fp32_copy,
    head_graph_names,
    weights_digest,
)

BACKENDS = ("auto", "torch", "onnxruntime")
log = logging.getLogger(__name__)


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def exporter_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def default_backend(device: torch.device, bf16: bool, cached: Callable[[], bool]) -> str:
    """PyTorch ("torch") on GPUs and where PyTorch runs bf16 (AMX); otherwise "onnxruntime" when it is installed and
    the graphs are in the cache (`cached()`) or can be exported."""
    if device.type != "cpu" or bf16 or not onnxruntime_available():
        return "torch"
    return "onnxruntime" if exporter_available() or cached() else "torch"


def cache_root() -> Path:
    return Path(os.environ.get("WAESTYLE_CACHE") or Path.home() / ".cache" / "waestyle")


def cached_export(model: WAEStyleModel, style_head: StyleHead | None = None) -> Path:
    """The cache folder for this model's graphs (with its style head's, when given) in this export format (it
    may not exist yet)."""
    return cache_root() / "onnx" / f"{weights_digest(model, style_head)}-v{FORMAT_VERSION}"


def is_exported(folder: Path, style_head: StyleHead | None = None) -> bool:
    names = (STYLE_GRAPH, TRANSFER_GRAPH, SIDECAR, *head_graph_names(style_head))
    return all((folder / name).is_file() for name in names)


def ensure_export(model: WAEStyleModel, style_head: StyleHead | None = None) -> Path:
    """This model's graphs (and its style head's) in the cache, exported first if missing (seconds, once)."""
    folder = cached_export(model, style_head)
    if is_exported(folder, style_head):
        return folder
    if not exporter_available():
        raise WaestyleError(
            "the onnxruntime backend exports the model once and needs the onnx extra: pip install 'waestyle[onnx]' "
            "(or use --backend torch)"
        )
    log.warning("exporting the model to ONNX for the onnxruntime backend (once; cached in %s)", folder)
    staging = folder.with_name(f".{folder.name}.{os.getpid()}")
    try:
        export_onnx(model, staging, overwrite=True, style_head=style_head)
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staging, folder)  # another process may have finished first: theirs is as good
        except OSError:
            if not is_exported(folder, style_head):
                raise
    except OSError as err:
        raise WaestyleError(f"cannot write the ONNX cache {folder}: {err.strerror or err}") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


class OnnxRuntimeNetworks:
    """Two ONNX Runtime sessions over an exported folder; tensors in, tensors out (float32, CPU)."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise WaestyleError("the onnxruntime backend needs onnxruntime: pip install 'waestyle[onnx]'") from err
        folder = Path(folder)
        if not is_exported(folder):
            raise WaestyleError(f"{folder}: not an exported model (run `waestyle export`)")
        try:
            self.info = json.loads((folder / SIDECAR).read_text())
        except (OSError, ValueError) as err:
            raise WaestyleError(f"{folder / SIDECAR}: unreadable ({err}); run `waestyle export` again") from err
        if not isinstance(self.info, dict) or self.info.get("format_version") != FORMAT_VERSION:
            raise WaestyleError(f"{folder}: exported by another waestyle version; run `waestyle export` again")
        self.folder = folder
        self.layers = self.info["transfer"].get("styled_layers")  # codes the transfer graph takes (None: one)
        self.offsets = self.info["transfer"].get("offsets")  # norm offsets it takes (None: no such input)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.log_severity_level = 3  # errors only
        # Idle worker threads sleep instead of spinning: spinning took cores from PyTorch work in the same process
        # (the server's decoding and finishing; bench_peer's other backends).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        self.style = ort.InferenceSession(str(folder / STYLE_GRAPH), options, providers=providers)
        self.transfer = ort.InferenceSession(str(folder / TRANSFER_GRAPH), options, providers=providers)

    def encode_style(self, batch: torch.Tensor) -> torch.Tensor:
        (z_style,) = self.style.run(None, {"style": _array(batch)})
        return torch.from_numpy(z_style)

    def stylise(self, content: torch.Tensor, z_style: torch.Tensor, content_size: int,
                offsets: Sequence[torch.Tensor] | None = None) -> torch.Tensor:  # fmt: skip
        """The transfer graph on a (B, 3, H, W) batch (sides in whole strides), one z_s (or one code per layer)
        and norm offsets (one (B or 1, 2 x channels) per styled layer; None: zeros) per image or one for all;
        the graph takes one image per run."""
        if self.layers and z_style.dim() == 2:  # one code: the same for every layer
            z_style = z_style[:, None].expand(-1, self.layers, -1)
        z_style = z_style.expand(len(content), *z_style.shape[1:]) if len(z_style) == 1 else z_style
        if self.offsets:
            ends = torch.zeros(1, self.offsets) if offsets is None else torch.cat([o.cpu() for o in offsets], 1)
            ends = ends.expand(len(content), -1)
        elif offsets is not None:
            raise WaestyleError("these graphs take no norm offsets; use --backend torch")
        size = np.array([content_size], dtype=np.int64)
        images = []
        for i, (c, z) in enumerate(zip(content, z_style, strict=True)):
            feeds = {"content": _array(c[None]), "z_style": _array(z[None]), "content_size": size}
            if self.offsets:
                feeds["offsets"] = _array(ends[i : i + 1])
            images.append(self.transfer.run(None, feeds)[0])
        return torch.from_numpy(np.concatenate(images))


def _array(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().to("cpu", torch.float32).numpy())


def verify_export(
    model: WAEStyleModel, folder: str | Path, seed: int = 0, style_head: StyleHead | None = None
) -> float:
    """Largest absolute difference between PyTorch and ONNX Runtime on a small random style and content
    (z_s and the image, every content size's octave; the style head's statistics, codes and offsets when
    given); raises ImportError without onnxruntime."""
    networks = OnnxRuntimeNetworks(folder)
    worst = 0.0 if style_head is None else verify_head(model, Path(folder), style_head, seed)
    config = model.config
    generator = torch.Generator().manual_seed(seed)
    side = 5 * config.content_stride if config.arch == "spatial" else config.image_size
    style = torch.rand(1, 3, config.style_size or config.image_size, 48, generator=generator)
    content = torch.rand(1, 3, side, side + config.content_stride * (config.arch == "spatial"), generator=generator)
    model = fp32_copy(model)
    with torch.no_grad():
        z_style = model.encode_style(style)
        worst = max(worst, (networks.encode_style(style) - z_style).abs().max().item())
        sizes = sorted({config.content_dim, max(1, config.content_dim // 4), 1}) if config.nested_content else [None]
        for size in sizes:
            k = size or config.content_dim
            expected = TransferGraph(model)(content, z_style, torch.tensor([k]))
            worst = max(worst, (networks.stylise(content, z_style, k) - expected).abs().max().item())
        if networks.offsets:  # refined codes and norm offsets, as refinement hands them over
            codes = z_style[:, None] + 0.3 * torch.randn(1, networks.layers, config.style_dim, generator=generator)
            offsets = 0.1 * torch.randn(1, networks.offsets, generator=generator)
            expected = TransferGraph(model)(content, codes, torch.tensor([config.content_dim]), offsets)
            per_layer = list(offsets.split(model.decoder.modulation_sizes(), dim=1))
            found = networks.stylise(content, codes, config.content_dim, per_layer)
            worst = max(worst, (found - expected).abs().max().item())
    return worst


def verify_head(model: WAEStyleModel, folder: Path, style_head: StyleHead, seed: int = 0) -> float:
    """Largest absolute difference between PyTorch and ONNX Runtime in the style head's graphs (statistics of a
    random style; codes and offsets of its z_s)."""
    import onnxruntime as ort

    head = style_head.float().eval()
    config = model.config
    style = torch.rand(2, 3, config.style_size or config.image_size, 72, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        z_style = fp32_copy(model).encode_style(style)
        feeds, worst = {"z_style": _array(z_style)}, 0.0
        if head.statistics_dim:
            expected = StatisticsGraph(load_style_loss(head.loss).eval())(style)
            session = ort.InferenceSession(str(folder / STATISTICS_GRAPH), providers=["CPUExecutionProvider"])
            (found,) = session.run(None, {"style": _array(style)})
            # the statistics are read standardised by the head: compare them on that scale
            scale = head.statistics_std
            worst = ((torch.from_numpy(found) - expected).abs() / scale).max().item()
            feeds["statistics"] = _array(expected)
        size = None
        if head.content_sized:  # a quarter of z_c's octaves kept
            size = torch.full((len(style),), 0.25)
            feeds["content_size"] = _array(size)
        codes, offsets = HeadGraph(head)(z_style, expected if head.statistics_dim else None, size)
        session = ort.InferenceSession(str(folder / HEAD_GRAPH), providers=["CPUExecutionProvider"])
        found_codes, found_offsets = session.run(None, feeds)
    worst = max(worst, (torch.from_numpy(found_codes) - codes).abs().max().item())
    return max(worst, (torch.from_numpy(found_offsets) - offsets).abs().max().item())
