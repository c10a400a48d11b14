"""Stylizer: load a model once, then transfer styles and reconstruct images with single forward passes.

The model works at its training resolution S (config `image_size`). A content image is resized
(squashed) to S x S for the content encoder, so the whole picture is kept; the decoded square is
then resized back to the content's aspect ratio, by default with its long side S (`long_side`
asks for another size, upsampled). A style image is resized and centre-cropped to S x S, as in
training, so its Gram statistics are read at the scale the style encoder learned.
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from waestyle.checkpoint import load_model
from waestyle.config import ModelConfig
from waestyle.devices import resolve_device
from waestyle.errors import WaestyleError
from waestyle.features import load_feature_network
from waestyle.images import pil_to_tensor, resize_center_crop, tensor_to_pil
from waestyle.model import WAEStyleModel

ImageLike = Image.Image | torch.Tensor


def output_size(content_size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) with the content's aspect ratio and the given long side."""
    width, height = content_size
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class Stylizer:
    """A loaded model ready for inference. Methods take PIL images, or (B, 3, H, W) tensors in [0, 1]."""

    def __init__(self, model: WAEStyleModel, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    @classmethod
    def load(
        cls, model_dir: str | Path, *, device: str = "cpu", vgg19_weights: str | Path | None = None
    ) -> "Stylizer":
        """Read a model folder (config.json + model.safetensors) written by `waestyle train`."""
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
        return cls(model, resolve_device(device))

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def image_size(self) -> int:
        return self.config.image_size

    # -- preparing inputs ------------------------------------------------------------------------
    def to_batch(self, images: ImageLike, *, crop: bool) -> torch.Tensor:
        """A (B, 3, S, S) batch on the model's device from a PIL image or an image tensor."""
        size = self.image_size
        if isinstance(images, Image.Image):
            image = resize_center_crop(images, size) if crop else images.resize((size, size), Image.Resampling.BICUBIC)
            batch = pil_to_tensor(image)[None]
        elif torch.is_tensor(images):
            batch = images[None] if images.dim() == 3 else images
            if batch.dim() != 4 or batch.shape[1] != 3:
                raise WaestyleError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
            if batch.shape[-2:] != (size, size):
                batch = F.interpolate(batch.float(), size=(size, size), mode="bicubic", align_corners=False)
        else:
            raise WaestyleError(f"expected a PIL image or a tensor, got {type(images).__name__}")
        return batch.to(self.device, torch.float32).clamp(0, 1)

    # -- latents --------------------------------------------------------------------------------------
    @torch.no_grad()
    def content_latent(self, images: ImageLike) -> torch.Tensor:
        return self.model.encode_content(self.to_batch(images, crop=False))

    @torch.no_grad()
    def style_latent(self, images: ImageLike) -> torch.Tensor:
        """z_s of a style image; compute it once and pass it to `transfer` for many contents."""
        return self.model.encode_style(self.to_batch(images, crop=True))

    @torch.no_grad()
    def decode(self, z_content: torch.Tensor, z_style: torch.Tensor) -> torch.Tensor:
        if len(z_style) == 1 and len(z_content) > 1:
            z_style = z_style.expand(len(z_content), -1)
        return self.model.decode(z_content.to(self.device), z_style.to(self.device))

    # -- the user-facing operations ----------------------------------------------------------------
    def transfer(
        self, content: ImageLike, style: ImageLike | torch.Tensor, *, long_side: int | None = None
    ) -> ImageLike:
        """`content` in the style of `style` (an image, or a style latent from `style_latent`).

        A PIL content gives a PIL image at the content's aspect ratio; a tensor batch gives a
        (B, 3, S, S) tensor. A single style (or latent) applies to every image of the batch.
        """
        z_style = style if _is_latent(style) else self.style_latent(style)
        output = self.decode(self.content_latent(content), z_style)
        return self._finish(content, output, long_side)

    def reconstruct(self, image: ImageLike, *, long_side: int | None = None) -> ImageLike:
        """The model's reconstruction of `image` from its own content and style latents."""
        return self._finish(image, self.decode(self.content_latent(image), self.style_latent(image)), long_side)

    def _finish(self, content: ImageLike, output: torch.Tensor, long_side: int | None) -> ImageLike:
        if not isinstance(content, Image.Image):
            return output.cpu()
        return to_content_shape(tensor_to_pil(output[0]), content.size, long_side or self.image_size)


def to_content_shape(square: Image.Image, content_size: tuple[int, int], long_side: int) -> Image.Image:
    """Undo the squash: resize the model's square output to the content's aspect ratio."""
    return square.resize(output_size(content_size, long_side), Image.Resampling.BICUBIC)


def _is_latent(value: object) -> bool:
    return torch.is_tensor(value) and value.dim() == 2


def _first_mismatch(err: RuntimeError) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else lines[0]
