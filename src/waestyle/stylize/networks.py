"""The model's three networks as inference runs them: precision, memory layout, torch.compile or ONNX Runtime.

On CPUs with AMX tiles the convolutions run in bf16 (about twice as fast there; slower than fp32 on CPUs
without it), channels-last as oneDNN's bf16 kernels want; Gram matrices and the style encoder's MLP stay fp32.
Outputs differ from fp32 by about 1e-3 on average, z_s by about 1 %. The cast of the encoder and decoder is in
place (a model shared with a training loop must be copied first); the frozen style CNN is copied, since
evaluation reads the model's own in fp32. The onnxruntime backend runs style encoding and transfer on exported
fp32 graphs (onnx_backend.py); the PyTorch model stays for the latent-level API.
"""

import copy
import os
from collections.abc import Callable, Sequence

import torch

from waestyle.core.config import PRECISIONS
from waestyle.core.devices import has_amx
from waestyle.core.errors import WaestyleError
from waestyle.models.style_head import StyleHead
from waestyle.models.wae import WAEStyleModel
from waestyle.stylize.compiled import CompiledOrEager
from waestyle.stylize.controls import content_size, keep_content
from waestyle.stylize.inputs import pad_to_stride
from waestyle.stylize.onnx_backend import (
    BACKENDS,
    OnnxRuntimeNetworks,
    cached_export,
    default_backend,
    ensure_export,
    is_exported,
)
from waestyle.stylize.resolution import resize, scaled_size


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether inference runs its convolutions in bf16: "bf16" always, "fp32" never, "auto" on CPUs with
    AMX tiles (bf16 matrix hardware)."""
    if precision not in PRECISIONS:
        raise WaestyleError(f"precision {precision!r}: choose from {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision == "bf16"
    return has_amx(device)


# What "auto" means when set: for example torch where a one-off ONNX export per model (about 10 s) is not worth
# it, as for short-lived models in tests and quick evaluations.
BACKEND_ENV = "WAESTYLE_BACKEND"


def choose_backend(model: WAEStyleModel, device: torch.device, backend: str, precision: str,
                   style_head: StyleHead | None = None) -> str:  # fmt: skip
    """`auto`: $WAESTYLE_BACKEND when set, else the faster one on this machine (see onnx_backend.default_backend);
    an explicit precision asks for PyTorch's own numerics. (A model that fills dropped z_c channels runs those
    transfers in PyTorch whatever the backend: the graphs cannot draw the fill; see `stylise`.)"""
    if backend == "auto" and os.environ.get(BACKEND_ENV, "auto") != "auto":
        backend = os.environ[BACKEND_ENV]
        if backend not in BACKENDS:
            raise WaestyleError(f"${BACKEND_ENV}={backend!r}: choose from {', '.join(BACKENDS)}")
        if backend == "onnxruntime" and device.type != "cpu":
            return "torch"  # a GPU run asked for auto; the environment's choice is for the CPU
    if backend not in BACKENDS:
        raise WaestyleError(f"backend {backend!r}: choose from {', '.join(BACKENDS)}")
    if backend == "onnxruntime" and device.type != "cpu":
        raise WaestyleError("the onnxruntime backend runs on the CPU; use --backend torch with a GPU")
    if backend != "auto":
        return backend
    bf16 = use_bf16(precision, device)
    if precision != "auto":
        return "torch"
    return default_backend(device, bf16, lambda: is_exported(cached_export(model, style_head), style_head))


class InferenceNetworks:
    """Style encoding, content encoding and decoding of one model, in the chosen backend and precision. The
    onnxruntime backend's export holds the model's style head's graphs too (`style_head`), so the page's
    in-browser mode shares it; the head itself runs in PyTorch (stylize/style_head.py)."""

    def __init__(self, model: WAEStyleModel, device: torch.device, precision: str, backend: str, compile: bool,
                 style_head: StyleHead | None = None):  # fmt: skip
        self.model, self.device = model.to(device).eval(), device
        self.backend = choose_backend(self.model, device, backend, precision, style_head)
        onnx = self.backend == "onnxruntime"
        self.onnx = OnnxRuntimeNetworks(ensure_export(self.model, style_head)) if onnx else None
        self.bf16 = self.onnx is None and use_bf16(precision, device)
        self.dtype = torch.bfloat16 if self.bf16 else torch.float32
        self.memory_format = torch.channels_last if self.bf16 else torch.contiguous_format
        for part in (self.model.content_encoder, self.model.decoder):
            part.to(dtype=self.dtype, memory_format=self.memory_format)
        self.style_cnn = self.model.feature_net
        if self.bf16:
            self.style_cnn = copy.deepcopy(self.style_cnn).to(dtype=self.dtype, memory_format=self.memory_format)
        self.compiled = compile and self.onnx is None
        self._compiled = None  # eager: the model's methods are looked up at each call
        if self.compiled:
            calls = {"encode_content": self.model.encode_content, "encode_style": self._encode_style,
                     "decode": self.model.decode}  # fmt: skip
            self._compiled = {name: CompiledOrEager(fn, name) for name, fn in calls.items()}

    def _network(self, name: str) -> Callable:
        if self._compiled is not None:
            return self._compiled[name]
        return self._encode_style if name == "encode_style" else getattr(self.model, name)

    def _encode_style(self, batch: torch.Tensor) -> torch.Tensor:
        """z_s: the frozen CNN in the inference precision, its maps in fp32 for the Gram matrices."""
        batch = batch.to(self.dtype).contiguous(memory_format=self.memory_format)
        maps = self.style_cnn(batch, self.style_cnn.style_layers)
        return self.model.style_encoder({name: m.float() for name, m in maps.items()})

    @torch.no_grad()
    def encode_style(self, batch: torch.Tensor) -> torch.Tensor:
        if self.onnx is not None:
            return self.onnx.encode_style(batch).to(self.device)
        return self._network("encode_style")(batch)

    @torch.no_grad()
    def encode_content(self, batch: torch.Tensor) -> torch.Tensor:
        batch = self._pad(batch).to(self.dtype).contiguous(memory_format=self.memory_format)
        return self._network("encode_content")(batch).float()

    @torch.no_grad()
    def decode(self, z_content: torch.Tensor, z_style: torch.Tensor, content_dim: int | None = None,
               offsets: Sequence[torch.Tensor] | None = None) -> torch.Tensor:  # fmt: skip
        """Images of (z_c, z_s); `content_dim`: how many z_c channels `keep_content` kept (None: all); `offsets`:
        a refined style's norm offsets (eager: the compiled decoder keeps its one signature)."""
        if len(z_style) == 1 and len(z_content) > 1:
            z_style = z_style.expand(len(z_content), *z_style.shape[1:])
        z_content = z_content.to(self.device, self.dtype)
        if z_content.dim() == 4:
            z_content = z_content.contiguous(memory_format=self.memory_format)
        z_style = z_style.to(self.device, self.dtype)
        if offsets is None:
            return self._network("decode")(z_content, z_style, content_dim).float()
        offsets = [o.to(self.device, self.dtype).expand(len(z_content), -1) for o in offsets]
        return self.model.decode(z_content, z_style, content_dim, offsets).float()

    @torch.no_grad()
    def stylise(
        self,
        work: torch.Tensor,
        z_styles: Sequence[torch.Tensor],
        content_dim: int | None,
        offsets: Sequence[Sequence[torch.Tensor] | None] | None = None,
        pictures: Sequence[torch.Tensor | None] | None = None,
    ) -> list[torch.Tensor]:
        """`work` (contents at processing size) decoded once per style latent (with its norm offsets, if any),
        the contents encoded once; a mosaic-filled model fills dropped z_c channels from each style's picture
        (`pictures`, one per latent; None: zeros)."""
        height, width = work.shape[-2:]
        config = self.model.config
        offsets = [None] * len(z_styles) if offsets is None else offsets
        pictures = [None] * len(z_styles) if pictures is None else pictures
        drawn = content_size(config, content_dim) < config.content_dim and config.content_fill != "zero"
        if self.onnx is not None and not drawn:  # the graphs zero dropped channels; a drawn fill runs in PyTorch
            size, padded = content_size(config, content_dim), self._pad(work)
            pairs = zip(z_styles, offsets, strict=True)
            return [self.onnx.stylise(padded, z, size, offs)[..., :height, :width].to(self.device) for z, offs in pairs]
        z_content = self.encode_content(work)
        # one kept z_c for every style, except where each style's picture fills it
        shared = None if config.content_fill == "mosaic" else keep_content(config, z_content, content_dim)
        decoded = []
        for z_style, offs, picture in zip(z_styles, offsets, pictures, strict=True):
            kept = shared
            if kept is None:
                code = None if picture is None else self.picture_code(picture, work)
                kept = keep_content(config, z_content, content_dim, code)
            decoded.append(self.decode(kept, z_style, content_dim, offs)[..., :height, :width])
        return decoded

    def picture_code(self, picture: torch.Tensor, work: torch.Tensor) -> torch.Tensor:
        """The content code of a style picture at the contents' scale (its long side set to theirs), as the mosaic
        fill was trained: the style's shapes the size they are against the picture."""
        picture = picture.to(self.device)
        return self.encode_content(resize(picture, scaled_size(tuple(picture.shape[-2:]), max(work.shape[-2:]))))

    def _pad(self, batch: torch.Tensor) -> torch.Tensor:
        """Spatial models need sides that are multiples of the stride (and two strides at least)."""
        config = self.model.config
        return pad_to_stride(batch, config.content_stride) if config.arch == "spatial" else batch
