"""ONNX export: the model as two graphs that run without PyTorch (ONNX Runtime, C++, mobile, browser).

style_encoder.onnx   style (B, 3, H, W) in [0, 1]                          -> z_style (B, style_dim)
transfer.onnx        content (1, 3, H, W) in [0, 1], z_style (1, style_dim),
                     content_size (1,) int64: z_c channels kept            -> image (1, 3, H, W) in [0, 1]

A spatial model's transfer graph takes one code per styled decoder layer, z_style (1, layers, style_dim), and
norm offsets (1, offsets), every styled layer's scale-and-shift offsets end to end: the style graph's z_s
repeated `layers` times (the sidecar's transfer.styled_layers) and zero offsets (transfer.offsets of them) give
the plain transfer, and refined codes and offsets (stylize/refine.py) decode in the same graph.

A model with a style head (models/style_head.py) adds its two graphs, so the head's codes and offsets decode in
the transfer graph as the Python API's do:

style_statistics.onnx   style (B, 3, H, W), read as the style graph reads it  -> statistics (B, D)
style_head.onnx         z_style (B, style_dim), statistics (B, D)             -> codes (B, layers, style_dim),
                                                                                 offsets (B, offsets)

Two graphs, not one, so that a mix of styles reads the weighted mean of its images' statistics and z_s, as
Stylizer.style does; the sidecar's style_head says so (null without a head).

Heights and widths are dynamic for a spatial model, in multiples of its content stride (Stylizer pads
with edge pixels and crops back); a global model's transfer graph takes its training size. The transfer
graph takes one image at a time (a spatial model's images differ in size anyway). What a caller must do
around the graphs (resize the style to its reading size, the content to its working size) is written to
the JSON sidecar beside them.
"""

import copy
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from waestyle.core.errors import WaestyleError
from waestyle.core.version import __version__
from waestyle.features.style_statistics import StyleStatistics, load_style_loss
from waestyle.models.style_head import StyleHead, statistics_vector
from waestyle.models.wae import WAEStyleModel, keep_content_channels
from waestyle.stylize.resolution import WORK_SIDE

STYLE_GRAPH = "style_encoder.onnx"
TRANSFER_GRAPH = "transfer.onnx"
STATISTICS_GRAPH = "style_statistics.onnx"
HEAD_GRAPH = "style_head.onnx"
SIDECAR = "waestyle-onnx.json"
OPSET = 18
# 4: the style head's graphs; 3: the spatial transfer graph also takes norm offsets; 2: one z_s per styled layer;
# 1: one z_s for all
FORMAT_VERSION = 4


class StyleGraph(nn.Module):
    """Style image -> z_s: the frozen CNN, its Gram matrices and the style encoder."""

    def __init__(self, model: WAEStyleModel):
        super().__init__()
        self.model = model

    def forward(self, style: torch.Tensor) -> torch.Tensor:
        return self.model.encode_style(style)


class TransferGraph(nn.Module):
    """(content, z_s, content size) -> image: encode, keep the first k channels of z_c, decode."""

    def __init__(self, model: WAEStyleModel):
        super().__init__()
        self.model = model

    def forward(self, content: torch.Tensor, z_style: torch.Tensor, content_size: torch.Tensor,
                offsets: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        """z_style: (1, style_dim), or (1, layers, style_dim) for a spatial model, which also takes `offsets`
        (see the module docstring)."""
        z_content = keep_content_channels(self.model.encode_content(content), content_size)
        per_layer = None if offsets is None else list(offsets.split(self.model.decoder.modulation_sizes(), dim=1))
        return self.model.decode(z_content, z_style, content_size, per_layer)


class StatisticsGraph(nn.Module):
    """Style image -> the statistics vector the style head reads (its frozen network's moments, the colours')."""

    def __init__(self, stats: StyleStatistics):
        super().__init__()
        self.stats = stats

    def forward(self, style: torch.Tensor) -> torch.Tensor:
        return statistics_vector(self.stats.statistics(style))


class HeadGraph(nn.Module):
    """(z_s, statistics) -> (a code per styled layer, every layer's norm offsets end to end)."""

    def __init__(self, head: StyleHead):
        super().__init__()
        self.head = head

    def forward(self, z_style: torch.Tensor, statistics: torch.Tensor,
                content_size: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:  # fmt: skip
        codes, offsets = self.head(z_style, statistics, content_size)
        return codes, torch.cat(offsets, dim=1)


def styled_layers(model: WAEStyleModel) -> int | None:
    """How many codes a spatial model's transfer graph takes (None: one z_s, as a global model's does)."""
    return getattr(model.decoder, "styled_layers", None)


def offsets_size(model: WAEStyleModel) -> int | None:
    """How many norm offsets a spatial model's transfer graph takes (None: no such input)."""
    return sum(model.decoder.modulation_sizes()) if styled_layers(model) else None


def fp32_copy(model: WAEStyleModel) -> WAEStyleModel:
    """An fp32 copy in eval mode: export never casts the caller's model (a Stylizer's may be bf16)."""
    return copy.deepcopy(model).float().eval()


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    style_graph: Path
    transfer_graph: Path
    sidecar: Path
    head_graphs: tuple[Path, ...] = ()  # the style head's statistics and head graphs, when the model has one

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.style_graph, self.transfer_graph, *self.head_graphs, self.sidecar)


def head_graph_names(style_head: StyleHead | None) -> tuple[str, ...]:
    """The style head's graph files: statistics and head; none without a head."""
    return () if style_head is None else (STATISTICS_GRAPH, HEAD_GRAPH)


def weights_digest(model: WAEStyleModel, style_head: StyleHead | None = None) -> str:
    """A short digest of the trainable weights (and the style head's): names an export (and its cache entry) by
    what it holds."""
    digest = hashlib.sha256()
    tensors = sorted(model.trainable_state_dict().items())
    if style_head is not None:
        tensors += sorted((f"style_head.{k}", v) for k, v in style_head.state_dict().items())
    for name, tensor in tensors:
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def head_sidecar(model: WAEStyleModel, style_head: StyleHead | None) -> dict | None:
    """How to run the style head's graphs (None without a head)."""
    if style_head is None:
        return None
    layers, dim = styled_layers(model), model.config.style_dim
    return {
        "statistics_graph": STATISTICS_GRAPH,
        "head_graph": HEAD_GRAPH,
        "statistics": {"input": "style", "output": "statistics", "dim": style_head.statistics_dim,
                       "read": "the same style image the style graph reads", "loss": style_head.loss},
        "inputs": ["z_style", "statistics"] + ["content_size"] * style_head.content_sized,
        "content_size": "float32 (B,): log2 k / log2 of the model's z_c size, for the k z_c channels the transfer "
        "keeps (1: all)" if style_head.content_sized else None,
        "outputs": ["codes", "offsets"],
        "codes": f"(B, {layers}, {dim}): the transfer graph's z_style",
        "offsets": f"(B, {offsets_size(model)}): the transfer graph's offsets",
        "mix": "the weighted mean of the style images' z_style and (over images only) of their statistics",
        "strength": "codes move from the content's own z_style (repeated per layer) by strength; offsets times it",
    }  # fmt: skip


def sidecar(model: WAEStyleModel, style_head: StyleHead | None = None) -> dict:
    """What a caller needs beside the graphs: inputs, sizes, and the model's settings."""
    config = model.config
    spatial = config.arch == "spatial"
    layers = styled_layers(model)
    graphs = {"style_encoder": STYLE_GRAPH, "transfer": TRANSFER_GRAPH}
    graphs |= {name.removesuffix(".onnx"): name for name in head_graph_names(style_head)}
    return {
        "format": "waestyle-onnx",
        "format_version": FORMAT_VERSION,
        "waestyle_version": __version__,
        "weights_digest": weights_digest(model, style_head),
        "opset": OPSET,
        "graphs": graphs,
        "input": {
            "layout": "NCHW",
            "channels": "RGB",
            "dtype": "float32",
            "range": [0.0, 1.0],
            "normalisation": "none: pixel values / 255 (the graphs normalise inside)",
        },
        "style": {
            "input": "style",
            "output": "z_style",
            "long_side": config.style_size or config.image_size,
            "resize": "bicubic, aspect kept" if config.style_size else "centre square crop, then bicubic",
        },
        "transfer": {
            "inputs": ["content", "z_style", "content_size"] + (["offsets"] if layers else []),
            "output": "image",
            "styled_layers": layers,
            "offsets": offsets_size(model),
            "z_style": (
                f"(1, {layers}, {config.style_dim}): one code per styled decoder layer; z_s repeated {layers} times"
                if layers
                else f"(1, {config.style_dim})"
            ),
            "content_size": f"int64 per image, 1..{config.content_dim}; {config.content_dim} keeps all of z_c"
            + (
                ""
                if config.content_fill == "zero"
                else f"; the graph zeroes dropped channels, which the model fills "
                f"({config.content_fill}): waestyle runs smaller sizes in PyTorch"
            ),
            "content_long_side": WORK_SIDE if spatial else config.image_size,
            "resize": (
                f"long side {WORK_SIDE} / style_scale (the texture scale), aspect kept; resize the output back"
                if spatial
                else f"squash to {config.image_size} x {config.image_size}"
            ),
            "dynamic_size": spatial,
            "side_multiple": config.content_stride if spatial else config.image_size,
            "min_side": 2 * config.content_stride if spatial else config.image_size,
            "pad": "replicate the last row and column up to the multiple; crop the output back",
            "batch": 1,
        },
        "style_head": head_sidecar(model, style_head),
        "z_style_prior": "N(0, I): a random style is a standard normal draw (no statistics: the head is skipped)",
        "model": asdict(config),
    }


def export_onnx(model: WAEStyleModel, out_dir: str | Path, *, overwrite: bool = False,
                style_head: StyleHead | None = None, reuse: Path | None = None) -> ExportResult:  # fmt: skip
    """Write the graphs (the style head's too, when given) and the sidecar into `out_dir`, each checked with
    onnx.checker; all or nothing. `reuse`: a folder holding this model's graphs already (the ONNX cache's entry
    for it), copied instead of exported again."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
    except ImportError as err:
        raise WaestyleError(
            f"export needs the onnx extra: pip install 'waestyle[onnx]' ({err.name} is missing)"
        ) from err
    out_dir = Path(out_dir)
    if style_head is not None and not style_head.statistics_dim:
        raise WaestyleError("ONNX export takes style heads that read the style's statistics (trained --statistics)")
    head_names = head_graph_names(style_head)
    graphs = (STYLE_GRAPH, TRANSFER_GRAPH, *head_names)
    existing = [n for n in (*graphs, SIDECAR) if (out_dir / n).exists()]
    if existing and not overwrite:
        raise WaestyleError(f"{out_dir / existing[0]} exists; pass --overwrite to replace it")
    model = fp32_copy(model)
    style_head = None if style_head is None else copy.deepcopy(style_head).float().eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        if reuse is not None:
            for name in graphs:
                shutil.copy2(Path(reuse) / name, staging / name)
        else:
            _export_graphs(model, staging)
            if style_head is not None:
                _export_head_graphs(model, style_head, staging)
        for name in graphs:
            onnx.checker.check_model(str(staging / name), full_check=True)
        (staging / SIDECAR).write_text(json.dumps(sidecar(model, style_head), indent=2) + "\n")
        for name in (*graphs, SIDECAR):
            os.replace(staging / name, out_dir / name)
        if style_head is None:  # an earlier export's head graphs would not match this model
            for name in (STATISTICS_GRAPH, HEAD_GRAPH):
                (out_dir / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(out_dir, out_dir / STYLE_GRAPH, out_dir / TRANSFER_GRAPH, out_dir / SIDECAR,
                        tuple(out_dir / name for name in head_names))  # fmt: skip


def _export_graphs(model: WAEStyleModel, folder: Path) -> None:
    config = model.config
    spatial = config.arch == "spatial"
    stride = config.content_stride
    side = 6 * stride if spatial else config.image_size
    style_side = max(64, config.style_size or config.image_size)
    codes = (styled_layers(model),) if styled_layers(model) else ()
    # Batch 2 in the style example: with 1, the exporter would fix the batch size.
    style_dims = {
        0: torch.export.Dim("batch", min=1, max=1024),
        2: torch.export.Dim("style_height", min=32, max=4096),
        3: torch.export.Dim("style_width", min=32, max=4096),
    }
    # Sides in whole strides: the encoder halves them log2(stride) times and the decoder doubles them back.
    content_dims = {}
    if spatial:
        content_dims = {
            2: stride * torch.export.Dim("height_blocks", min=2, max=4096),
            3: stride * torch.export.Dim("width_blocks", min=2, max=4096),
        }
    transfer_args = (
        torch.rand(1, 3, side, side + stride if spatial else side),
        torch.randn(1, *codes, config.style_dim),
        torch.full((1,), config.content_dim, dtype=torch.int64),
    )
    transfer_dims = {"content": content_dims or None, "z_style": None, "content_size": None}
    if codes:
        transfer_args += (0.1 * torch.randn(1, offsets_size(model)),)
        transfer_dims["offsets"] = None
    jobs = [
        (StyleGraph(model), (torch.rand(2, 3, style_side, style_side + 8),), ["style"], ["z_style"],
         {"style": style_dims}, STYLE_GRAPH),
        (TransferGraph(model), transfer_args, list(transfer_dims), ["image"], transfer_dims, TRANSFER_GRAPH),
    ]  # fmt: skip
    _run_exports(jobs, folder)


def _export_head_graphs(model: WAEStyleModel, style_head: StyleHead, folder: Path) -> None:
    _run_exports([_statistics_job(style_head), _head_job(model, style_head)], folder)


def _statistics_job(style_head: StyleHead) -> tuple:
    """The statistics graph's export job (see `_run_exports`): any batch, height and width."""
    stats = load_style_loss(style_head.loss).eval()
    dims = {"style": {0: torch.export.Dim("batch", min=1, max=1024),
                      2: torch.export.Dim("style_height", min=32, max=4096),
                      3: torch.export.Dim("style_width", min=32, max=4096)}}  # fmt: skip
    return StatisticsGraph(stats), (torch.rand(2, 3, 96, 104),), ["style"], ["statistics"], dims, STATISTICS_GRAPH


def _head_job(model: WAEStyleModel, style_head: StyleHead) -> tuple:
    """The head graph's export job: any batch; a content-sized head also takes the content size."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    args = (torch.randn(2, model.config.style_dim), torch.randn(2, style_head.statistics_dim))
    dims = {"z_style": {0: batch}, "statistics": {0: batch}}
    if style_head.content_sized:
        args += (torch.rand(2),)
        dims["content_size"] = {0: batch}
    return HeadGraph(style_head), args, list(dims), ["codes", "offsets"], dims, HEAD_GRAPH


def _run_exports(jobs: list, folder: Path) -> None:
    """torch.onnx.export each (module, example args, input names, output names, dynamic shapes, file name)."""
    quiet = logging.getLogger("torch.onnx"), logging.getLogger("torch.export")
    levels = [logger.level for logger in quiet]
    name = ""
    try:
        for logger in quiet:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            for module, args, inputs, outputs, dims, name in jobs:
                torch.onnx.export(
                    module, args, str(folder / name), dynamo=True, external_data=False, opset_version=OPSET,
                    input_names=inputs, output_names=outputs, dynamic_shapes=dims, verbose=False,
                )  # fmt: skip
    except WaestyleError:
        raise
    except Exception as err:  # the exporter's own errors are long; one line names the graph
        raise WaestyleError(f"ONNX export of {name} failed: {type(err).__name__}: {str(err).splitlines()[0]}") from err
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
