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
`style_scale` (spatial models) makes the style's texture larger (> 1) or finer (< 1) on the picture;
A model folder with a style head (`style_head.safetensors`, the bundled model's) reads every style image through
it: z_s and the image's statistics give each decoder layer its own code and norm offsets, in one pass
(models/style_head.py); `Stylizer.load(..., style_head=False)` reads z_s alone, as models without one do.
`refine` (N steps, about 0.04 s each; 30 recommended) searches z_s and norm offsets for an output that matches
the style image's statistics better (refine.py): the one control that costs time.
"""

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch
from PIL import Image

from waestyle.core.bundled import DEFAULT_MODEL
from waestyle.core.config import DEFAULT_MAX_SIDE, ModelConfig
from waestyle.core.devices import resolve_device
from waestyle.core.errors import WaestyleError
from waestyle.features import load_feature_network
from waestyle.models.io import load_model
from waestyle.models.style_head import StyleHead, check_fits, content_size_input, load_style_head
from waestyle.models.wae import WAEStyleModel
from waestyle.stylize.controls import (
    Style,
    content_size,
    is_latent,
    mix_latents,
    prior_style,
    resolve_styles,
    style_offsets,
)
from waestyle.stylize.finishing import finish_batch, finish_image
from waestyle.stylize.inputs import (
    ImageLike,
    long_side_batch,
    output_size,
    square_batch,
    style_batch,
    tensor_batch,
    work_batch,
)
from waestyle.stylize.networks import InferenceNetworks
from waestyle.stylize.refine import Offsets, Refiner, RefineSettings
from waestyle.stylize.resolution import resize, scaled_size, work_long_side
from waestyle.stylize.style_head import StylePredictor


class Stylizer:
    """A loaded model ready for inference. Methods take PIL images, or (B, 3, H, W) tensors in [0, 1].

    A thin pipeline over four pieces: inputs.py (images to batches), networks.py (the networks in the chosen
    backend and precision), controls.py (strength, mixing, content size on latents), finishing.py (output size,
    detail, colours). The CLI's batch runner, the web app and the evaluation all go through `transfer_images`
    or `transfer`.
    """

    def __init__(
        self,
        model: WAEStyleModel,
        device: torch.device | str = "cpu",
        *,
        max_side: int = DEFAULT_MAX_SIDE,
        precision: str = "auto",
        backend: str = "torch",
        compile: bool = False,
        style_head: StyleHead | None = None,
    ):
        self.device = torch.device(device)
        self.networks = InferenceNetworks(model, self.device, precision, backend, compile, style_head)
        self.model, self.max_side = self.networks.model, max_side
        self.backend, self.bf16, self.compiled = self.networks.backend, self.networks.bf16, self.networks.compiled
        self.style_head = None if style_head is None else StylePredictor(style_head, self.device)
        self._refiner: Refiner | None = None  # its networks load on the first refinement

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
        style_head: bool = True,
    ) -> "Stylizer":
        """Read a model folder (config.json + model.safetensors) written by `waestyle train`;
        with no folder, the default model bundled with waestyle. `precision`: see `use_bf16`;
        `backend`: "torch", "onnxruntime" or "auto" (the faster here; see onnx_backend.py); `compile`: run the
        PyTorch backend's networks through torch.compile (see compiled.py); `style_head`: read styles through
        the folder's style head when it has one (see the module docstring). The pieces: see the class docstring."""
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
        head = load_style_head(model_dir) if style_head else None
        if head is not None:
            check_fits(head[0], model.decoder, model_dir)
        return cls(model, resolve_device(device), max_side=max_side, precision=precision, backend=backend,
                   compile=compile, style_head=None if head is None else head[0])  # fmt: skip

    @property
    def head(self) -> StyleHead | None:
        """The style head's network (None without one): what an ONNX export writes beside the model's graphs."""
        return None if self.style_head is None else self.style_head.head

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def spatial(self) -> bool:
        return self.config.arch == "spatial"

    # -- inputs ------------------------------------------------------------------------------------------
    def to_batch(self, images: ImageLike, *, crop: bool) -> torch.Tensor:
        """A (B, 3, S, S) batch on the model's device: centre-cropped (`crop`, for styles) or squashed."""
        return square_batch(images, self.image_size, self.device, crop=crop)

    def style_batch(self, images: ImageLike) -> torch.Tensor:
        """A style image as the style encoder reads it (see inputs.style_batch)."""
        return style_batch(images, self.config, self.device)

    def work_batch(self, image: Image.Image, style_scale: float = 1.0) -> torch.Tensor:
        """A content image at the size the model processes it (see the module docstring)."""
        return work_batch(image, self.config, self.device, style_scale, self.max_side)

    # -- latents -------------------------------------------------------------------------------------------
    def content_latent(self, images: ImageLike) -> torch.Tensor:
        """z_c: a vector per image (global), or a map of the image padded to a multiple of the stride (spatial)."""
        if isinstance(images, Image.Image):
            batch = self.work_batch(images)
        else:
            batch = tensor_batch(images, self.device) if self.spatial else self.to_batch(images, crop=False)
        return self.networks.encode_content(batch)

    def style_latent(self, images: ImageLike) -> torch.Tensor:
        """z_s of a style image: the WAE's style latent, for mixing and sampling. To style many contents with one
        image, pass `style(image)` to `transfer` instead: it also keeps what the style head reads."""
        return self.networks.encode_style(self.style_batch(images))

    def mix_styles(self, styles: Sequence[ImageLike], weights: Sequence[float] | None = None) -> torch.Tensor:
        """One z_s mixing several styles (images or latents) with `weights`, scaled to sum to 1."""
        return mix_latents([s.to(self.device) if is_latent(s) else self.style_latent(s) for s in styles], weights)

    def style(self, styles: ImageLike | Sequence[ImageLike], weights: Sequence[float] | None = None) -> Style:
        """A style (one image, or several images and latents mixed by `weights`) that remembers its images,
        so `transfer(..., refine=N)` can aim at their statistics; usable wherever a latent is. With a style head,
        its latent is the head's code per decoder layer, with the head's norm offsets; compute it once and pass
        it to `transfer` for many contents."""
        parts = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        sources = [None if is_latent(s) else self.style_batch(s) for s in parts]
        encode = self.networks.encode_style
        latents = [s.to(self.device) if b is None else encode(b) for s, b in zip(parts, sources, strict=True)]
        weights = [1.0] * len(parts) if weights is None else [float(w) for w in weights]
        latent = mix_latents(latents, weights)  # checks the weights
        style = Style(latent, sources, [w / sum(weights) for w in weights], picture=self._picture(parts, weights))
        images = [(s, w) for s, w in zip(sources, weights, strict=True) if s is not None and w > 0]
        if self.style_head is None or not images:  # a prior sample or a latent alone has no statistics to read
            return style
        statistics = self.style_head.statistics(images)
        codes, offsets = self.style_head(latent, statistics)
        return replace(style, latent=codes, offsets=offsets, head_input=(latent, statistics))

    def _picture(self, parts: Sequence[object], weights: Sequence[float]) -> torch.Tensor | None:
        """For a mosaic-filled model, the heaviest style image, long side at most `max_side` (else None)."""
        if self.config.content_fill != "mosaic":
            return None
        pairs = enumerate(zip(parts, weights, strict=True))
        images = [(w, i) for i, (part, w) in pairs if not is_latent(part) and w > 0]
        if not images:
            return None
        image = parts[max(images)[1]]
        side = max(image.size) if isinstance(image, Image.Image) else max(image.shape[-2:])
        return long_side_batch(image, min(side, self.max_side), self.device)[:1]

    def _at_content_size(self, style: object, content_dim: int | None) -> object:
        """`style` as a content-sized style head reads it for `content_dim` z_c channels (others unchanged)."""
        if not isinstance(style, Style) or style.head_input is None:
            return style
        if self.style_head is None or not self.style_head.content_sized:
            return style
        size = content_size_input(content_size(self.config, content_dim), self.config.content_dim)
        codes, offsets = self.style_head(*style.head_input, size)
        return replace(style, latent=codes, offsets=offsets)

    def random_style(self, seed: int) -> torch.Tensor:
        """A new style drawn from the prior N(0, I): WAE training makes z_s follow it, so samples decode sensibly."""
        return prior_style(self.config.style_dim, seed).to(self.device)

    def decode(self, z_content: torch.Tensor, z_style: torch.Tensor, content_dim: int | None = None) -> torch.Tensor:
        """Images of (z_c, z_s); `content_dim`: how many z_c channels were kept (None: all)."""
        return self.networks.decode(z_content, z_style, content_dim)

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
        refine: int | RefineSettings = 0,
    ) -> ImageLike:
        """`content` in the style of `style` (an image, a `Style` from `style`, or a latent from `style_latent`,
        `mix_styles`, `random_style`; None means the content's own style); `refine`: see the module docstring
        (it needs the style's images: an image or a `Style`).

        A PIL content gives a PIL image (size: see the module docstring); a tensor batch gives a
        tensor, (B, 3, S, S) for a global model and (B, 3, H, W) for a spatial one. A single style
        applies to every image of the batch.
        """
        if style is not None and not isinstance(style, Style) and not is_latent(style):
            style = self.style(style)  # keeps the images: for refinement, and for the style head
        z_style = self._at_content_size(style, content_dim)
        controls = {"strength": strength, "content_dim": content_dim, "keep_colors": keep_colors, "refine": refine}
        if isinstance(content, Image.Image):
            controls.update(long_side=long_side, style_scale=style_scale)
            return self.transfer_images([content], [z_style], **controls)[0][0]
        batch = tensor_batch(content, self.device)
        if self.spatial:  # stylised at the working size, returned at the batch's own
            work = resize(batch, scaled_size(tuple(batch.shape[-2:]), work_long_side(style_scale, self.max_side)))
            reference = batch
        else:  # stylised and returned as S x S squares
            work = reference = self.to_batch(batch, crop=False)
        z_styles = resolve_styles([_latent(z_style)], strength, lambda: self.style_latent(batch))
        out = self._stylise(work, z_styles, content_dim, refine, [z_style], strength)[0]
        return finish_batch(out, reference, spatial=self.spatial, keep_colors=keep_colors)

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
        refine: int | RefineSettings = 0,
    ) -> list[list[Image.Image]]:
        """Many PIL contents, each with every style latent or `Style` (None: the content's own):
        `results[style][content]`. With `refine`, every pair is refined (the styles must be `Style`s).

        Contents are encoded once per batch (batched where sizes allow) and shared by all the styles.
        """
        step = 1 if self.spatial else batch_size  # spatial inputs keep their own sizes: one per pass
        z_styles = [self._at_content_size(z, content_dim) for z in z_styles]
        results: list[list[Image.Image]] = [[] for _ in z_styles]
        for start in range(0, len(contents), step):
            chunk = contents[start : start + step]
            work = torch.cat([self.work_batch(image, style_scale) for image in chunk])
            resolved = resolve_styles([_latent(z) for z in z_styles], strength, partial(self._own_styles, chunk))
            decoded_styles = self._stylise(work, resolved, content_dim, refine, z_styles, strength)
            for per_style, decoded in zip(results, decoded_styles, strict=True):
                for image, tensor in zip(chunk, decoded, strict=True):
                    size = output_size(image.size, long_side or (max(image.size) if self.spatial else self.image_size))
                    per_style.append(finish_image(image, tensor, size, spatial=self.spatial, keep_colors=keep_colors))
        return results

    def refined_style(self, content: Image.Image, style: Style, refine: int | RefineSettings, *,
                      strength: float = 1.0, content_dim: int | None = None,
                      style_scale: float = 1.0) -> Style:  # fmt: skip
        """`style` refined once, for `content`, as a `Style` that other contents reuse with no new search (a
        video refines on its first frame): its latent is the refined code, one per styled layer for spatial
        models (`RefineSettings(per_layer=False)`: one shared code), with the search's norm offsets; its images
        and target statistics stay, so it can be refined further. `strength` is applied before the search."""
        work = self.work_batch(content, style_scale)
        style = self._at_content_size(style, content_dim)
        z_style = resolve_styles([style.latent], strength, lambda: self._own_styles([content]))[0]
        offsets = style_offsets([style], strength)[0]
        code, offsets = self._refined(work, z_style, style, RefineSettings.of(refine), content_dim, offsets)
        return Style(code, style.sources, style.weights, offsets=offsets, targets=style.targets, picture=style.picture)

    def _own_styles(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """z_s of each content image itself (for reconstructions and strengths below 1)."""
        return torch.cat([self.style_latent(image) for image in images])

    def _stylise(
        self,
        work: torch.Tensor,
        z_styles: Sequence[torch.Tensor],
        content_dim: int | None,
        refine: int | RefineSettings = 0,
        styles: Sequence[Style | torch.Tensor | None] = (),
        strength: float = 1.0,
    ) -> list[torch.Tensor]:
        """`work` decoded with each style latent (refined first when `refine` asks), with the norm offsets of
        refined `styles`."""
        z_styles = [z.to(self.device) for z in z_styles]
        offsets = style_offsets(styles, strength) if styles else [None] * len(z_styles)
        settings = RefineSettings.of(refine)
        if settings.steps:
            parts = zip(z_styles, styles, offsets, strict=True)
            z_styles, offsets = map(list, zip(*[self._refined(work, z, style, settings, content_dim, offs)
                                                for z, style, offs in parts], strict=True))  # fmt: skip
        pictures = [work if style is None else getattr(style, "picture", None) for style in styles] if styles else None
        return self.networks.stylise(work, z_styles, content_dim, offsets, pictures)

    def _refined(self, work: torch.Tensor, z_style: torch.Tensor, style, settings: RefineSettings,
                 content_dim: int | None, offsets: Offsets = None) -> tuple[torch.Tensor, Offsets]:  # fmt: skip
        """(z_s, norm offsets) refined for each content of `work`: one code, or one per layer, per content
        image, and its offsets (one (B, 2 x channels) per styled layer) when the search moves them."""
        if not isinstance(style, Style):
            raise WaestyleError("refinement needs the style's images: pass a style image or stylizer.style(...)")
        if self._refiner is None or self._refiner.loss != settings.loss:
            self._refiner = Refiner(self.model, self.device, settings.loss)
        target = style.target(settings.loss, self._refiner.target)
        z_style = z_style.expand(len(work), *z_style.shape[1:])  # a code, or one per layer
        found = []
        for i in range(len(work)):
            start = None if offsets is None else [o.expand(len(work), -1)[i : i + 1] for o in offsets]
            one = work[i : i + 1], z_style[i : i + 1], target, settings, content_dim, start, style.picture
            found.append(self._refiner.refine(*one))
        codes, moved = zip(*found, strict=True)
        layers = None if moved[0] is None else [torch.cat(layer) for layer in zip(*moved, strict=True)]
        return torch.cat(codes), layers


def _latent(style: Style | torch.Tensor | None) -> torch.Tensor | None:
    return style.latent if isinstance(style, Style) else style


def _first_mismatch(err: RuntimeError) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else lines[0]
