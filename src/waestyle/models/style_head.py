"""The style head: how each styled decoder layer reads a style, learnt from what refinement finds.

Refining a style once, on a few unrelated photos, and reusing the answer on any photo scores as well as refining
every pair (docs/results/quality/refine/once.md): the search's answer (one code per styled decoder layer and
every layer's per-channel norm offsets) belongs to the style. The head predicts it in one pass, from z_s and the
style's own statistics under the refinement's loss (each layer's per-channel mean and deviation in a frozen
pretrained network, the colours' second moments: what the search aims at, where z_s is 64 numbers distilled for
the WAE's prior). Trained by scripts/style_head.py with the refinement's objective through the frozen model.
Its last layer starts at zero: an untrained head gives back z_s and no offsets, the plain model.

Saved beside a model as `style_head.safetensors`; its metadata say which statistics it reads.
"""

import json
import math
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from waestyle.core.errors import WaestyleError

HEAD_FILE = "style_head.safetensors"
FORMAT = "1"


class StyleHead(nn.Module):
    """(z_s (B, d), statistics (B, D)) -> (codes (B, layers, d), norm offsets [(B, 2 x channels)] per styled layer).
    `loss` names the style statistics it reads (features/style_statistics.py); `statistics_dim` = 0: z_s only.
    `content_sized`: it also reads how much of z_c the transfer keeps (`content_size`: log2 k / log2 of the
    model's z_c size, 1 for all of it), so that fewer content channels can buy more style (the content-size knob)."""

    def __init__(self, style_dim: int, sizes: list[int], hidden: int = 512, statistics_dim: int = 0, loss: str = "",
                 content_sized: bool = False):  # fmt: skip
        super().__init__()
        self.style_dim, self.sizes, self.hidden = style_dim, list(sizes), hidden
        self.statistics_dim, self.loss, self.content_sized = statistics_dim, loss, content_sized
        outputs = len(self.sizes) * style_dim + sum(self.sizes)
        inputs = style_dim + statistics_dim + int(content_sized)
        self.net = nn.Sequential(nn.Linear(inputs, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                                 nn.SiLU(), nn.Linear(hidden, outputs))  # fmt: skip
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        if statistics_dim:
            self.register_buffer("statistics_mean", torch.zeros(statistics_dim))
            self.register_buffer("statistics_std", torch.ones(statistics_dim))

    def fit_standardisation(self, vectors: torch.Tensor) -> None:
        """Centre and scale each statistic by its spread over training styles (N, statistics_dim)."""
        self.statistics_mean.copy_(vectors.mean(0))
        self.statistics_std.copy_(vectors.std(0).clamp_min(1e-6))

    def forward(self, z_style: torch.Tensor, statistics: torch.Tensor | None = None,
                content_size: torch.Tensor | None = None) -> tuple[torch.Tensor, list]:  # fmt: skip
        """`content_size` (B,) or (B, 1) in [0, 1] for a content-sized head (None: all of z_c); others ignore it."""
        inputs = [z_style]
        if self.statistics_dim:
            inputs.append(((statistics - self.statistics_mean) / self.statistics_std).clamp(-5, 5))
        if self.content_sized:  # (B, 1); ones_like, not len(): an ONNX export keeps the batch size free
            full = torch.ones_like(z_style[:, :1])
            inputs.append(full if content_size is None else full * content_size.to(z_style).reshape(-1, 1))
        out = self.net(torch.cat(inputs, dim=1))
        layers = len(self.sizes)
        codes = z_style[:, None] + out[:, : layers * self.style_dim].view(-1, layers, self.style_dim)
        return codes, list(out[:, layers * self.style_dim :].split(self.sizes, dim=1))


def with_content_size(head: StyleHead) -> StyleHead:
    """A content-sized copy of a trained head that answers exactly as it did at every content size: its first
    layer gains a zero column for the content-size input, so training (`scripts/style_head.py train
    --init-head ... --widen-head`) starts from the trained head and learns what fewer z_c channels ask for."""
    if head.content_sized:
        return head
    sized = StyleHead(head.style_dim, head.sizes, head.hidden, head.statistics_dim, head.loss, content_sized=True)
    state = head.state_dict()
    weight = state["net.0.weight"]
    state["net.0.weight"] = torch.cat([weight, weight.new_zeros(len(weight), 1)], dim=1)
    sized.load_state_dict(state)
    return sized.train(head.training)


def content_size_input(content_dim: int | None, full: int) -> float:
    """What a content-sized head reads for keeping `content_dim` of `full` z_c channels: log2 k / log2 full."""
    if content_dim is None or content_dim >= full:
        return 1.0
    return math.log2(max(1, content_dim)) / math.log2(full)


def check_fits(head: StyleHead, decoder: nn.Module, where: Path) -> None:
    """Refuse a head trained for another decoder's styled layers (a global model's decoder has none)."""
    if head.sizes != getattr(decoder, "modulation_sizes", list)():
        raise WaestyleError(f"{where}: its style head was trained for another decoder")


def statistics_vector(statistics: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, D): the compact part of a style's statistics (every layer's moments, the colours' Gram), the head's
    second input; the feature Gram matrices (21k numbers under Lite0) are left to z_s."""
    keys = sorted(k for k in statistics if k.endswith("/moments") or k.endswith("rgb/gram"))
    return torch.cat([statistics[k].float() for k in keys], dim=1)


def save_style_head(head: StyleHead, folder: Path, step: int, dtype: torch.dtype = torch.float32) -> Path:
    """Write the head beside a model, whole or not at all; `dtype` float16 halves the file (what the bundled
    model ships: the outputs move by < 1e-3)."""
    meta = {"format": FORMAT, "style_dim": head.style_dim, "sizes": head.sizes, "hidden": head.hidden,
            "statistics_dim": head.statistics_dim, "loss": head.loss, "content_sized": head.content_sized,
            "step": step}  # fmt: skip
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in head.state_dict().items()}
    path, partial = Path(folder) / HEAD_FILE, Path(folder) / (HEAD_FILE + ".tmp")
    save_file(tensors, partial, metadata={"waestyle_style_head": json.dumps(meta)})
    partial.replace(path)
    return path


def load_style_head(folder: Path) -> tuple[StyleHead, dict] | None:
    """(the head saved in `folder` in fp32, its metadata), or None when the folder has none."""
    path = Path(folder) / HEAD_FILE
    if not path.is_file():
        return None
    try:
        with safe_open(path, framework="pt") as f:
            meta = json.loads((f.metadata() or {})["waestyle_style_head"])
            tensors = {key: f.get_tensor(key).float() for key in f.keys()}
    except (SafetensorError, KeyError, ValueError, OSError) as err:  # JSONDecodeError is a ValueError
        raise WaestyleError(f"{path}: not a waestyle style head ({err})") from err
    if meta.get("format") != FORMAT:
        raise WaestyleError(f"{path}: a style head of another waestyle version (format {meta.get('format')})")
    head = StyleHead(meta["style_dim"], meta["sizes"], meta["hidden"], meta["statistics_dim"], meta["loss"],
                     meta.get("content_sized", False))  # fmt: skip
    try:
        head.load_state_dict(tensors)
    except RuntimeError as err:
        raise WaestyleError(f"{path}: weights do not match its metadata") from err
    return head.eval(), meta
