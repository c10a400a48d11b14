"""ONNX export: the model as two graphs that run without PyTorch (ONNX Runtime, C++, mobile, browser).

style_encoder.onnx   style (B, 3, H, W) in [0, 1]                          -> z_style (B, style_dim)
transfer.onnx        content (1, 3, H, W) in [0, 1], z_style (1, style_dim),
                     content_size (1,) int64: z_c channels kept            -> image (1, 3, H, W) in [0, 1]

A spatial model's transfer graph takes one code per styled decoder layer, z_style (1, layers, style_dim), and
norm offsets (1, offsets), every styled layer's scale-and-shift offsets end to end: the style graph's z_s
repeated `layers` times (the sidecar's transfer.styled_layers) and zero offsets (transfer.offsets of them) give
the plain transfer, and refined codes and offsets (stylize/refine.py) decode in the same graph.

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
from waestyle.models.wae import WAEStyleModel, keep_content_channels
from waestyle.stylize.resolution import WORK_SIDE

STYLE_GRAPH = "style_encoder.onnx"
TRANSFER_GRAPH = "transfer.onnx"
SIDECAR = "waestyle-onnx.json"
OPSET = 18
# 3: the spatial transfer graph also takes norm offsets; 2: one z_s per styled layer; 1: one z_s for all
FORMAT_VERSION = 3


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


def weights_digest(model: WAEStyleModel) -> str:
    """A short digest of the trainable weights: names an export (and its cache entry) by what it holds."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.trainable_state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def sidecar(model: WAEStyleModel) -> dict:
    """What a caller needs beside the graphs: inputs, sizes, and the model's settings."""
    config = model.config
    spatial = config.arch == "spatial"
    layers = styled_layers(model)
    return {
        "format": "waestyle-onnx",
        "format_version": FORMAT_VERSION,
        "waestyle_version": __version__,
        "weights_digest": weights_digest(model),
        "opset": OPSET,
        "graphs": {"style_encoder": STYLE_GRAPH, "transfer": TRANSFER_GRAPH},
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
            "content_size": f"int64 per image, 1..{config.content_dim}; {config.content_dim} keeps all of z_c",
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
        "z_style_prior": "N(0, I): a random style is a standard normal draw",
        "model": asdict(config),
    }


def export_onnx(model: WAEStyleModel, out_dir: str | Path, *, overwrite: bool = False) -> ExportResult:
    """Write both graphs and the sidecar into `out_dir`, each checked with onnx.checker; all or nothing."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
    except ImportError as err:
        raise WaestyleError(
            f"export needs the onnx extra: pip install 'waestyle[onnx]' ({err.name} is missing)"
        ) from err
    out_dir = Path(out_dir)
    names = (STYLE_GRAPH, TRANSFER_GRAPH, SIDECAR)
    existing = [n for n in names if (out_dir / n).exists()]
    if existing and not overwrite:
        raise WaestyleError(f"{out_dir / existing[0]} exists; pass --overwrite to replace it")
    model = fp32_copy(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        _export_graphs(model, staging)
        for name in (STYLE_GRAPH, TRANSFER_GRAPH):
            onnx.checker.check_model(str(staging / name), full_check=True)
        (staging / SIDECAR).write_text(json.dumps(sidecar(model), indent=2) + "\n")
        for name in names:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(out_dir, *(out_dir / name for name in names))


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
    quiet = logging.getLogger("torch.onnx"), logging.getLogger("torch.export")
    levels = [logger.level for logger in quiet]
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
