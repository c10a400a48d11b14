"""What a user passes (PIL images, tensors) as the batches the networks read, at the sizes they read them.

A global model reads S x S squares (its `image_size`); a spatial model reads a content at its working size
(resolution.py) padded to a multiple of the content stride, and a style at the model's `style_size` on its long
side (older models: an S x S centre crop, as they were trained).
"""

import torch
import torch.nn.functional as F
from PIL import Image

from waestyle.core.config import ModelConfig
from waestyle.core.errors import WaestyleError
from waestyle.data.images import pil_to_tensor, resize_center_crop
from waestyle.stylize.resolution import resize, scaled_size, work_long_side

ImageLike = Image.Image | torch.Tensor


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


def tensor_batch(images: object, device: torch.device) -> torch.Tensor:
    """A (B, 3, H, W) float batch in [0, 1] on `device` from a tensor of one or several images."""
    if not torch.is_tensor(images):
        raise WaestyleError(f"expected a PIL image or a tensor, got {type(images).__name__}")
    batch = images[None] if images.dim() == 3 else images
    if batch.dim() != 4 or batch.shape[1] != 3:
        raise WaestyleError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
    return batch.to(device, torch.float32).clamp(0, 1)


def square_batch(images: ImageLike, size: int, device: torch.device, *, crop: bool) -> torch.Tensor:
    """A (B, 3, S, S) batch: centre-cropped (`crop`, for styles) or squashed (contents of a global model)."""
    if isinstance(images, Image.Image):
        image = resize_center_crop(images, size) if crop else images.resize((size, size), Image.Resampling.BICUBIC)
        return pil_to_tensor(image)[None].to(device)
    batch = tensor_batch(images, device)
    if crop:
        return square_crop(batch, size)
    if batch.shape[-2:] != (size, size):
        batch = F.interpolate(batch, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
    return batch


def work_batch(
    image: Image.Image, config: ModelConfig, device: torch.device, style_scale: float, max_side: int
) -> torch.Tensor:
    """A content image at the size the model processes it: S x S (global) or the working size (spatial)."""
    if config.arch != "spatial":
        return square_batch(image, config.image_size, device, crop=False)
    size = output_size(image.size, work_long_side(style_scale, max_side))
    if size != image.size:
        image = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    return pil_to_tensor(image)[None].to(device)


def style_batch(images: ImageLike, config: ModelConfig, device: torch.device) -> torch.Tensor:
    """A style image as the style encoder reads it: long side `style_size`, aspect kept (or the old S x S crop)."""
    if not config.style_size:
        return square_batch(images, config.image_size, device, crop=True)
    return long_side_batch(images, config.style_size, device)


def long_side_batch(images: ImageLike, side: int, device: torch.device) -> torch.Tensor:
    """Images as a (B, 3, H, W) batch with their long side `side`, aspect kept."""
    if isinstance(images, Image.Image):
        size = output_size(images.size, side)
        image = images if images.size == size else images.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
        return pil_to_tensor(image)[None].to(device)
    batch = tensor_batch(images, device)
    return resize(batch, scaled_size(tuple(batch.shape[-2:]), side))


def pad_to_stride(batch: torch.Tensor, stride: int) -> torch.Tensor:
    """Sides rounded up to a multiple of the content stride (two strides at least), by repeating the edge."""
    h, w = batch.shape[-2:]
    new_h, new_w = (max(2 * stride, -(-side // stride) * stride) for side in (h, w))
    if (new_h, new_w) == (h, w):
        return batch
    return F.pad(batch, (0, new_w - w, 0, new_h - h), mode="replicate")
