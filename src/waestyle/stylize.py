"""Stylizer: load a model once, then transfer styles and reconstruct images with single forward passes.

Resolution. A `global` model works at its training size S (config `image_size`): a content image is
squashed to S x S, so the whole picture is kept, and the decoded square is resized back to the
content's aspect ratio, by default with its long side S. A `spatial` model is fully convolutional:
the content is stylised at a working size, 512 / `style_scale` pixels on its long side (at most
`max_side`; see resolution.py: the texture keeps its size relative to the picture), padded to a multiple
of the content stride, and the output has the content's own size, with the photo's fine detail added
back where it is larger than the working size. `long_side` asks for another output size. A style image
is read at the model's `style_size` on its long side (older models: centre-cropped to S x S, as they were
trained), so its Gram statistics keep the texture the style encoder learned from.

Controls (all optional, all cheap: they act on latents, not pixels):
`strength` moves z_s from the content's own style (0) to the style image's (1);
`content_dim` keeps only the first k channels of z_c (models trained with nested content);
`keep_colors` keeps the content's colours, taking only the stylised luminance;
`style_scale` (spatial models) makes the style's texture larger (> 1) or finer (< 1) on the picture.
"""

import copy
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from waestyle.bundled import DEFAULT_MODEL
from waestyle.checkpoint import load_model
from waestyle.colors import preserve_colors
from waestyle.compiled import CompiledOrEager
from waestyle.config import DEFAULT_MAX_SIDE, PRECISIONS, ModelConfig
from waestyle.devices import resolve_device
from waestyle.errors import WaestyleError
from waestyle.features import load_feature_network
from waestyle.images import pil_to_tensor, resize_center_crop, tensor_to_pil
from waestyle.model import WAEStyleModel, content_fill, keep_content_channels
from waestyle.onnx_backend import (
    BACKENDS,
    OnnxRuntimeNetworks,
    cached_export,
    default_backend,
    ensure_export,
    is_exported,
)
from waestyle.resolution import resize, restore_detail, scaled_size, work_long_side

ImageLike = Image.Image | torch.Tensor


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether inference runs its convolutions in bf16: "bf16" always, "fp32" never, "auto" on CPUs with
    AMX tiles (bf16 matrix hardware: about twice as fast there, and slower than fp32 on CPUs without it)."""
    if precision not in PRECISIONS:
        raise WaestyleError(f"precision {precision!r}: choose from {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision == "bf16"
    return device.type == "cpu" and bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def output_size(content_size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) with the content's aspect ratio and the given long side."""
    width, height = content_size
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def square_crop(batch: torch.Tensor, size: int) -> torch.Tensor:
    """The central square of a (B, 3, H, W) batch, resized to size x size (the tensor resize_center_crop)."""
    h, w = batch.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = batch[..., top : top + side, left : left + side]
    if side != size:
        square = F.interpolate(square, size=(size, size), mode="bicubic", align_corners=False, antialias=side > size)
    return square.clamp(0, 1)


class Stylizer:
    """A loaded model ready for inference. Methods take PIL images, or (B, 3, H, W) tensors in [0, 1]."""

    def __init__(
        self,
        model: WAEStyleModel,
        device: torch.device | str = "cpu",
        *,
        max_side: int = DEFAULT_MAX_SIDE,
        precision: str = "auto",
        backend: str = "torch",
        compile: bool = False,
    ):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.max_side = max_side
        self.backend = self._choose_backend(backend, precision)
        # The onnxruntime backend runs style encoding and transfer on exported fp32 graphs (onnx_backend.py);
        # the PyTorch model stays for the latent-level API (content_latent, decode).
        self.onnx = OnnxRuntimeNetworks(ensure_export(self.model)) if self.backend == "onnxruntime" else None
        self.bf16 = self.onnx is None and use_bf16(precision, self.device)
        # bf16 weights and activations in the networks' convolutions (nearly all of a transfer's time: the content
        # encoder, the decoder and the style's frozen CNN), channels-last as oneDNN's bf16 kernels want; Gram
        # matrices and the style encoder's MLP stay fp32. Outputs differ from fp32 by about 1e-3 on average, z_s
        # by about 1 %. The cast of the encoder and decoder is in place: a model shared with a training loop must
        # be copied first. The frozen CNN is copied (evaluation reads the model's own in fp32).
        self.dtype = torch.bfloat16 if self.bf16 else torch.float32
        self.memory_format = torch.channels_last if self.bf16 else torch.contiguous_format
        for part in (self.model.content_encoder, self.model.decoder):
            part.to(dtype=self.dtype, memory_format=self.memory_format)
        self.style_cnn = self.model.feature_net
        if self.bf16:
            self.style_cnn = copy.deepcopy(self.style_cnn).to(dtype=self.dtype, memory_format=self.memory_format)
        # The three networks through torch.compile (compiled.py), or None: eager, looked up at each call.
        self.compiled = compile and self.onnx is None
        self._compiled = None
        if self.compiled:
            networks = {"encode_content": self.model.encode_content, "encode_style": self._encode_style,
                        "decode": self.model.decode}  # fmt: skip
            self._compiled = {name: CompiledOrEager(fn, name) for name, fn in networks.items()}

    def _network(self, name: str) -> Callable:
        if self._compiled is not None:
            return self._compiled[name]
        return self._encode_style if name == "encode_style" else getattr(self.model, name)

    def _choose_backend(self, backend: str, precision: str) -> str:
        """`auto`: the faster one on this machine (see onnx_backend.default_backend); an explicit precision asks
        for PyTorch's own numerics."""
        bf16 = use_bf16(precision, self.device)
        if backend not in BACKENDS:
            raise WaestyleError(f"backend {backend!r}: choose from {', '.join(BACKENDS)}")
        if backend == "onnxruntime" and self.device.type != "cpu":
            raise WaestyleError("the onnxruntime backend runs on the CPU; use --backend torch with a GPU")
        if backend != "auto":
            return backend
        if precision != "auto" or self.config.content_fill == "prior":  # prior fill: the graphs cannot draw it
            return "torch"
        return default_backend(self.device, bf16, lambda: is_exported(cached_export(self.model)))

    def _encode_style(self, batch: torch.Tensor) -> torch.Tensor:
        """z_s: the frozen CNN in the inference precision, its maps in fp32 for the Gram matrices."""
        batch = batch.to(self.dtype).contiguous(memory_format=self.memory_format)
        maps = self.style_cnn(batch, self.style_cnn.style_layers)
        return self.model.style_encoder({name: m.float() for name, m in maps.items()})

    def _encode_content(self, batch: torch.Tensor) -> torch.Tensor:
        batch = self._pad(batch).to(self.dtype).contiguous(memory_format=self.memory_format)
        return self._network("encode_content")(batch).float()

    @classmethod
    def load(
        cls,
        model_dir: str | Path | None = None,
        *,
        device: str = "cpu",
        vgg19_weights: str | Path | None = None,
        max_side: int = DEFAULT_MAX_SIDE,
        precision: str = "auto",
        backend: str = "auto",
        compile: bool = False,
    ) -> "Stylizer":
        """Read a model folder (config.json + model.safetensors) written by `waestyle train`;
        with no folder, the default model bundled with waestyle. `precision`: see `use_bf16`;
        `backend`: "torch", "onnxruntime" or "auto" (the faster here; see onnx_backend.py); `compile`: run the
        PyTorch backend's networks through torch.compile (see compiled.py)."""
        if model_dir is None:
            model_dir = DEFAULT_MODEL
            if not (model_dir / "config.json").is_file():
                raise WaestyleError(
                    f"this install has no bundled default model ({model_dir}); pass a model folder from `train`"
                )
        config, weights = load_model(model_dir)
        model = WAEStyleModel(config, load_feature_network(config.features, vgg19_weights))
        try:
            model.load_state_dict(weights, strict=False)
        except RuntimeError as err:
            raise WaestyleError(f"{model_dir}: weights do not match config.json ({_first_mismatch(err)})") from err
        unexpected = set(weights) - set(model.trainable_state_dict())
        missing = set(model.trainable_state_dict()) - set(weights)
        if unexpected or missing:
            name = sorted(unexpected or missing)[0]
            raise WaestyleError(
                f"{model_dir}: weights do not match config.json ({'extra' if unexpected else 'missing'} {name})"
            )
        return cls(
            model, resolve_device(device), max_side=max_side, precision=precision, backend=backend, compile=compile
        )

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def spatial(self) -> bool:
        return self.config.arch == "spatial"

    # -- preparing inputs ------------------------------------------------------------------------
    def to_batch(self, images: ImageLike, *, crop: bool) -> torch.Tensor:
        """A (B, 3, S, S) batch on the model's device: centre-cropped (`crop`, for styles) or squashed."""
        size = self.image_size
        if isinstance(images, Image.Image):
            image = resize_center_crop(images, size) if crop else images.resize((size, size), Image.Resampling.BICUBIC)
            return pil_to_tensor(image)[None].to(self.device)
        batch = self._tensor_batch(images)
        if crop:
            return square_crop(batch, size)
        if batch.shape[-2:] != (size, size):
            batch = F.interpolate(batch, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
        return batch

    def _tensor_batch(self, images: object) -> torch.Tensor:
        if not torch.is_tensor(images):
            raise WaestyleError(f"expected a PIL image or a tensor, got {type(images).__name__}")
        batch = images[None] if images.dim() == 3 else images
        if batch.dim() != 4 or batch.shape[1] != 3:
            raise WaestyleError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        return batch.to(self.device, torch.float32).clamp(0, 1)

    def _work_batch(self, image: Image.Image, style_scale: float = 1.0) -> torch.Tensor:
        """A content image at the size the model processes it (see the module docstring)."""
        if not self.spatial:
            return self.to_batch(image, crop=False)
        size = output_size(image.size, work_long_side(style_scale, self.max_side))
        if size != image.size:
            image = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
        return pil_to_tensor(image)[None].to(self.device)

    def style_batch(self, images: ImageLike) -> torch.Tensor:
        """A style image as the style encoder reads it: long side `style_size`, aspect kept (older models:
        an S x S centre crop)."""
        side = self.config.style_size
        if not side:
            return self.to_batch(images, crop=True)
        if isinstance(images, Image.Image):
            size = output_size(images.size, side)
            image = images if images.size == size else images.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
            return pil_to_tensor(image)[None].to(self.device)
        batch = self._tensor_batch(images)
        return resize(batch, scaled_size(tuple(batch.shape[-2:]), side))

    # -- latents --------------------------------------------------------------------------------------
    @torch.no_grad()
    def content_latent(self, images: ImageLike) -> torch.Tensor:
        """z_c: a vector per image (global), or a map of the image padded to a multiple of the stride (spatial)."""
        if isinstance(images, Image.Image):
            batch = self._work_batch(images)
        else:
            batch = self._tensor_batch(images) if self.spatial else self.to_batch(images, crop=False)
        return self._encode_content(batch)

    @torch.no_grad()
    def style_latent(self, images: ImageLike) -> torch.Tensor:
        """z_s of a style image; compute it once and pass it to `transfer` for many contents."""
        batch = self.style_batch(images)
        if self.onnx is not None:
            return self.onnx.encode_style(batch).to(self.device)
        return self._network("encode_style")(batch)

    def mix_styles(self, styles: Sequence[ImageLike], weights: Sequence[float] | None = None) -> torch.Tensor:
        """One z_s mixing several styles (images or latents) with `weights`, scaled to sum to 1."""
        if not styles:
            raise WaestyleError("mix_styles needs at least one style")
        weights = [1.0] * len(styles) if weights is None else [float(w) for w in weights]
        if len(weights) != len(styles):
            raise WaestyleError(f"{len(styles)} styles but {len(weights)} weights")
        if min(weights) < 0 or sum(weights) <= 0:
            raise WaestyleError("style weights must be non-negative and not all zero")
        latents = [s.to(self.device) if _is_latent(s) else self.style_latent(s) for s in styles]
        return sum(w / sum(weights) * z for w, z in zip(weights, latents, strict=True))

    def random_style(self, seed: int) -> torch.Tensor:
        """A new style drawn from the prior N(0, I): WAE training makes z_s follow it, so samples decode sensibly."""
        generator = torch.Generator().manual_seed(seed)
        return torch.randn(1, self.config.style_dim, generator=generator).to(self.device)

    @torch.no_grad()
    def decode(self, z_content: torch.Tensor, z_style: torch.Tensor, content_dim: int | None = None) -> torch.Tensor:
        """Images of (z_c, z_s); `content_dim`: how many z_c channels `_keep` kept (None: all)."""
        if len(z_style) == 1 and len(z_content) > 1:
            z_style = z_style.expand(len(z_content), -1)
        z_content = z_content.to(self.device, self.dtype)
        if z_content.dim() == 4:
            z_content = z_content.contiguous(memory_format=self.memory_format)
        return self._network("decode")(z_content, z_style.to(self.device, self.dtype), content_dim).float()

    # -- the user-facing operations ----------------------------------------------------------------
    def transfer(
        self,
        content: ImageLike,
        style: ImageLike | torch.Tensor | None,
        *,
        strength: float = 1.0,
        content_dim: int | None = None,
        keep_colors: bool = False,
        long_side: int | None = None,
        style_scale: float = 1.0,
    ) -> ImageLike:
        """`content` in the style of `style` (an image, or a latent from `style_latent`, `mix_styles`,
        `random_style`; None means the content's own style).

        A PIL content gives a PIL image (size: see the module docstring); a tensor batch gives a
        tensor, (B, 3, S, S) for a global model and (B, 3, H, W) for a spatial one. A single style
        applies to every image of the batch.
        """
        z_style = None if style is None else (style if _is_latent(style) else self.style_latent(style))
        controls = {"strength": strength, "content_dim": content_dim, "keep_colors": keep_colors}
        if isinstance(content, Image.Image):
            controls.update(long_side=long_side, style_scale=style_scale)
            return self.transfer_images([content], [z_style], **controls)[0][0]
        batch = self._tensor_batch(content)
        if not self.spatial:
            work = self.to_batch(batch, crop=False)
            out = self._stylise(work, lambda: self.style_latent(batch), [z_style], strength, content_dim)[0]
            return (preserve_colors(out, work) if keep_colors else out).cpu()
        size = tuple(batch.shape[-2:])
        work = resize(batch, scaled_size(size, work_long_side(style_scale, self.max_side)))
        out = self._stylise(work, lambda: self.style_latent(batch), [z_style], strength, content_dim)[0]
        out = restore_detail(resize(out, size), batch, tuple(work.shape[-2:]))
        return (preserve_colors(out, batch) if keep_colors else out).cpu()

    def reconstruct(
        self,
        image: ImageLike,
        *,
        content_dim: int | None = None,
        long_side: int | None = None,
        style_scale: float = 1.0,
    ):
        """The model's reconstruction of `image` from its own content and style latents."""
        return self.transfer(image, None, content_dim=content_dim, long_side=long_side, style_scale=style_scale)

    def transfer_images(
        self,
        contents: Sequence[Image.Image],
        z_styles: Sequence[torch.Tensor | None],
        *,
        strength: float = 1.0,
        content_dim: int | None = None,
        keep_colors: bool = False,
        long_side: int | None = None,
        style_scale: float = 1.0,
        batch_size: int = 16,
    ) -> list[list[Image.Image]]:
        """Many PIL contents, each with every style latent (None: the content's own): `results[style][content]`.

        Contents are encoded once per batch (batched where sizes allow) and shared by all the styles.
        """
        step = 1 if self.spatial else batch_size  # spatial inputs keep their own sizes: one per pass
        results: list[list[Image.Image]] = [[] for _ in z_styles]
        for start in range(0, len(contents), step):
            chunk = contents[start : start + step]
            work = torch.cat([self._work_batch(image, style_scale) for image in chunk])
            decoded = self._stylise(work, partial(self._own_styles, chunk), z_styles, strength, content_dim)
            for per_style, tensors in zip(results, decoded, strict=True):
                per_style += [
                    self._finish(image, t, long_side, keep_colors) for image, t in zip(chunk, tensors, strict=True)
                ]
        return results

    def _own_styles(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """z_s of each content image itself (for reconstructions and strengths below 1)."""
        return torch.cat([self.style_latent(image) for image in images])

    def _finish(
        self, image: Image.Image, tensor: torch.Tensor, long_side: int | None, keep_colors: bool
    ) -> Image.Image:
        """A decoded tensor as a PIL image at the output size (module docstring), colours kept if asked."""
        default = max(image.size) if self.spatial else self.image_size
        size = output_size(image.size, long_side or default)
        out = tensor_to_pil(tensor)
        out = out if out.size == size else out.resize(size, Image.Resampling.BICUBIC)
        work_size = tensor.shape[-2:]
        if self.spatial and (size[1] > work_size[0] or size[0] > work_size[1]):
            content = pil_to_tensor(image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0))[None]
            out = tensor_to_pil(restore_detail(pil_to_tensor(out)[None], content, tuple(work_size))[0])
        if keep_colors:
            colours = pil_to_tensor(image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0))
            out = tensor_to_pil(preserve_colors(pil_to_tensor(out), colours))
        return out

    @torch.no_grad()
    def _stylise(
        self,
        work: torch.Tensor,
        own: Callable[[], torch.Tensor],
        z_styles: Sequence[torch.Tensor | None],
        strength: float,
        content_dim: int | None,
    ) -> list[torch.Tensor]:
        """Decode `work` (contents at processing size) once per style latent, encoding it once.

        `own()` gives the contents' own z_s; it is called only when a style needs them (None, or a
        strength below 1).
        """
        z_own = None
        if strength != 1.0 or any(z is None for z in z_styles):
            z_own = own()
        resolved = []
        for z_style in z_styles:
            if z_style is None:
                z_style = z_own
            elif strength != 1.0:
                z_style = z_own + strength * (z_style.to(self.device) - z_own)
            resolved.append(z_style)
        height, width = work.shape[-2:]
        if self.onnx is not None:
            size = self._content_size(content_dim)
            if size < self.config.content_dim and self.config.content_fill == "prior":
                raise WaestyleError("this model fills dropped z_c channels from the prior; use --backend torch")
            padded = self._pad(work)
            return [self.onnx.stylise(padded, z, size)[..., :height, :width].to(self.device) for z in resolved]
        z_content = self._keep(self._encode_content(work), content_dim)
        return [self.decode(z_content, z, content_dim)[..., :height, :width] for z in resolved]

    def _pad(self, batch: torch.Tensor) -> torch.Tensor:
        """Spatial models need sides that are multiples of the stride (and two strides at least)."""
        if not self.spatial:
            return batch
        stride = self.config.content_stride
        h, w = batch.shape[-2:]
        new_h, new_w = (max(2 * stride, -(-side // stride) * stride) for side in (h, w))
        if (new_h, new_w) == (h, w):
            return batch
        return F.pad(batch, (0, new_w - w, 0, new_h - h), mode="replicate")

    def _content_size(self, content_dim: int | None) -> int:
        """How many z_c channels to keep (None: all), checked against the model."""
        full = self.config.content_dim
        if content_dim is None or content_dim == full:
            return full
        if not 1 <= content_dim <= full:
            raise WaestyleError(f"--content-dim must be between 1 and the model's {full}, got {content_dim}")
        if not self.config.nested_content:
            raise WaestyleError(
                "this model was trained without --nested-content, so it cannot drop content channels; "
                "train with --nested-content to choose --content-dim at transfer time"
            )
        return content_dim

    def _keep(self, z_content: torch.Tensor, content_dim: int | None) -> torch.Tensor:
        size = self._content_size(content_dim)
        if size == self.config.content_dim:
            return z_content
        # A fixed seed: the same content, style and size always give the same image.
        fill = content_fill(self.config, z_content, torch.Generator().manual_seed(0))
        return keep_content_channels(z_content, size, fill)


def _is_latent(value: object) -> bool:
    return torch.is_tensor(value) and value.dim() == 2


def _first_mismatch(err: RuntimeError) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else lines[0]
